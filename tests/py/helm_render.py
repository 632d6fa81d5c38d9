"""Renders a Helm chart without Helm (no helm binary is packaged for this machine),
following Go text/template and Helm semantics for the subset the Hafiz chart uses:

  {{ .Values.a.b }}  {{ $.Values.x }}  {{ $var }}  {{ .Release.Name }}  {{ .Chart.Name }}
  {{- ... -}} whitespace trimming      {{/* comments */}}
  define / include / template, if / else if / else / end, range $i := ... / end,
  with / end, pipelines (a | f b), parenthesised sub-expressions, string and
  number literals, and the functions until, int, add, sub, quote, squote, default,
  printf (%s %d %v), toYaml, nindent, indent, trunc, trimSuffix, eq, ne, not,
  required, b64enc, lower, upper, join, list.

Anything else is an error, so the chart cannot silently drift outside what is
checked. Values are merged over values.yaml like `--set`.
"""

from __future__ import annotations

import base64
import copy
import re
from pathlib import Path

import yaml

ACTION = re.compile(r"{{(-?)\s*(.*?)\s*(-?)}}", re.S)


class TemplateError(Exception):
    pass


def tokenize(text: str):
    """Text and action tokens, with Go's trim markers applied."""
    out = []
    pos = 0
    for m in ACTION.finditer(text):
        out.append(["text", text[pos:m.start()]])
        out.append(["action", m.group(2), m.group(1) == "-", m.group(3) == "-"])
        pos = m.end()
    out.append(["text", text[pos:]])
    for i, t in enumerate(out):
        if t[0] != "action":
            continue
        if t[2] and i > 0:
            out[i - 1][1] = out[i - 1][1].rstrip(" \t\r\n")
        if t[3] and i + 1 < len(out):
            out[i + 1][1] = out[i + 1][1].lstrip(" \t\r\n")
    return [t for t in out if not (t[0] == "action" and t[1].startswith("/*"))]


def parse(tokens, i=0, stop=("end",)):
    """A list of nodes until one of `stop`; returns (nodes, index, stopper)."""
    nodes = []
    while i < len(tokens):
        t = tokens[i]
        if t[0] == "text":
            nodes.append(("text", t[1]))
            i += 1
            continue
        body = t[1]
        word = body.split(None, 1)[0] if body else ""
        rest = body[len(word):].strip()
        if word in stop or (word == "else" and "else" in stop):
            return nodes, i, body
        if word in ("if", "range", "with"):
            inner, i, stopper = parse(tokens, i + 1, ("end", "else"))
            branches = [(rest, inner)]
            otherwise = []
            while stopper.startswith("else"):
                cond = stopper[4:].strip()
                if cond.startswith("if "):
                    inner, i, stopper = parse(tokens, i + 1, ("end", "else"))
                    branches.append((cond[3:].strip(), inner))
                else:
                    otherwise, i, stopper = parse(tokens, i + 1, ("end",))
            nodes.append((word, branches, otherwise))
            i += 1
            continue
        if word == "define":
            inner, i, _ = parse(tokens, i + 1, ("end",))
            nodes.append(("define", parse_literal(rest), inner))
            i += 1
            continue
        nodes.append(("expr", body))
        i += 1
    if stop != ("__eof__",):
        raise TemplateError(f"missing {{{{ end }}}} (wanted {stop})")
    return nodes, i, None


def parse_literal(s: str):
    s = s.strip()
    if s.startswith('"'):
        return yaml.safe_load(s)
    raise TemplateError(f"expected a string literal, got {s!r}")


TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|\(|\)|\||:=|[^\s()|]+)')


def split_pipeline(expr: str):
    toks = [m.group(1) for m in TOKEN.finditer(expr)]
    return toks


class Renderer:
    def __init__(self, chart_dir: Path, values: dict, release: str = "hafiz", namespace: str = "default"):
        self.chart_dir = Path(chart_dir)
        chart = yaml.safe_load((self.chart_dir / "Chart.yaml").read_text())
        self.root = {
            "Values": values,
            "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"},
            "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart.get("appVersion", "")},
        }
        self.defines = {}
        self.templates = {}
        for p in sorted((self.chart_dir / "templates").iterdir()):
            if p.suffix not in (".yaml", ".tpl", ".yml"):
                continue
            nodes, _, _ = parse(tokenize(p.read_text()), 0, ("__eof__",))
            self.templates[p.name] = nodes
            self.collect_defines(nodes)

    def collect_defines(self, nodes):
        for n in nodes:
            if n[0] == "define":
                self.defines[n[1]] = n[2]

    # --- expressions -------------------------------------------------------
    def lookup(self, path: str, dot, vars_):
        if path == ".":
            return dot
        if path.startswith("$"):
            name, _, rest = path.partition(".")
            if name not in vars_:
                raise TemplateError(f"undefined variable {name}")
            base = vars_[name]
            parts = rest.split(".") if rest else []
        else:
            base = dot
            parts = path[1:].split(".")
        for part in parts:
            if base is None:
                return None
            if not isinstance(base, dict):
                raise TemplateError(f"cannot take .{part} of {base!r} in {path}")
            base = base.get(part)
        return base

    def atom(self, tok: str, dot, vars_):
        if tok.startswith('"'):
            return yaml.safe_load(tok)
        if re.fullmatch(r"-?\d+", tok):
            return int(tok)
        if tok in ("true", "false"):
            return tok == "true"
        if tok == "nil":
            return None
        if tok.startswith(".") or tok.startswith("$"):
            return self.lookup(tok, dot, vars_)
        raise TemplateError(f"unknown word {tok!r}")

    def call(self, name, args, dot, vars_):
        f = {
            "until": lambda n: list(range(int(n))),
            "int": lambda v: int(v),
            "add": lambda *a: sum(int(x) for x in a),
            "sub": lambda a, b: int(a) - int(b),
            "quote": lambda *v: " ".join('"' + str("" if x is None else x).replace('"', '\\"') + '"' for x in v),
            "squote": lambda v: "'" + str(v) + "'",
            "default": lambda d, v=None: v if v not in (None, "", [], {}, False) else d,
            "printf": lambda fmt, *a: re.sub(r"%[sdv]", "{}", fmt).format(*a),
            "toYaml": lambda v: "" if v in (None, {}, []) else yaml.safe_dump(v, default_flow_style=False, sort_keys=False).rstrip("\n"),
            "nindent": lambda n, s: "\n" + "\n".join((" " * int(n) + line) if line else line for line in str(s).split("\n")),
            "indent": lambda n, s: "\n".join((" " * int(n) + line) if line else line for line in str(s).split("\n")),
            "trunc": lambda n, s: str(s)[: int(n)],
            "trimSuffix": lambda suf, s: str(s)[: -len(suf)] if suf and str(s).endswith(suf) else str(s),
            "eq": lambda a, b: a == b,
            "ne": lambda a, b: a != b,
            "not": lambda a: not truthy(a),
            "b64enc": lambda s: base64.b64encode(str(s).encode()).decode(),
            "lower": lambda s: str(s).lower(),
            "upper": lambda s: str(s).upper(),
            "join": lambda sep, items: sep.join(str(x) for x in items),
            "list": lambda *a: list(a),
        }
        if name in ("include", "template"):
            tname = args[0]
            if tname not in self.defines:
                raise TemplateError(f"no template {tname!r}")
            return self.render_nodes(self.defines[tname], args[1] if len(args) > 1 else None, {"$": args[1] if len(args) > 1 else None})
        if name == "required":
            if args[1] in (None, ""):
                raise TemplateError(args[0])
            return args[1]
        if name not in f:
            raise TemplateError(f"unknown function {name!r}")
        return f[name](*args)

    def eval_tokens(self, toks, dot, vars_):
        """A pipeline: commands separated by |, each the previous result's last arg."""
        commands, cur, depth = [], [], 0
        i = 0
        # Group parentheses into nested token lists first.
        def group(ts, i):
            out = []
            while i < len(ts):
                t = ts[i]
                if t == "(":
                    sub, i = group(ts, i + 1)
                    out.append(sub)
                elif t == ")":
                    return out, i + 1
                else:
                    out.append(t)
                    i += 1
            return out, i
        grouped, _ = group(toks, 0)
        for t in grouped:
            if t == "|":
                commands.append(cur)
                cur = []
            else:
                cur.append(t)
        commands.append(cur)
        result = None
        first = True
        for cmd in commands:
            if not cmd:
                raise TemplateError("empty command in pipeline")
            head, args = cmd[0], cmd[1:]
            vals = [self.eval_tokens(a, dot, vars_) if isinstance(a, list) else self.atom(a, dot, vars_) for a in args]
            if not first:
                vals.append(result)
            if isinstance(head, list):
                result = self.eval_tokens(head, dot, vars_)
            elif head.startswith(('"', ".", "$")) or re.fullmatch(r"-?\d+|true|false|nil", head):
                if vals and first:
                    raise TemplateError(f"{head} is not a function")
                result = self.atom(head, dot, vars_)
            else:
                result = self.call(head, vals, dot, vars_)
            first = False
        return result

    def eval(self, expr: str, dot, vars_):
        return self.eval_tokens(split_pipeline(expr), dot, vars_)

    # --- nodes ---------------------------------------------------------------
    def render_nodes(self, nodes, dot, vars_):
        out = []
        for n in nodes:
            kind = n[0]
            if kind == "text":
                out.append(n[1])
            elif kind == "define":
                continue
            elif kind == "expr":
                body = n[1]
                m = re.fullmatch(r"(\$\w+)\s*:?=\s*(.*)", body, re.S)
                if m:
                    vars_[m.group(1)] = self.eval(m.group(2), dot, vars_)
                    continue
                v = self.eval(body, dot, vars_)
                out.append("" if v is None else (str(v).lower() if isinstance(v, bool) else str(v)))
            elif kind == "if":
                for cond, body in n[1]:
                    if truthy(self.eval(cond, dot, vars_)):
                        out.append(self.render_nodes(body, dot, dict(vars_)))
                        break
                else:
                    out.append(self.render_nodes(n[2], dot, dict(vars_)))
            elif kind == "with":
                cond, body = n[1][0]
                v = self.eval(cond, dot, vars_)
                out.append(self.render_nodes(body if truthy(v) else n[2], v if truthy(v) else dot, dict(vars_)))
            elif kind == "range":
                spec, body = n[1][0]
                m = re.fullmatch(r"(?:(\$\w+)\s*(?:,\s*(\$\w+))?\s*:=\s*)?(.*)", spec, re.S)
                items = self.eval(m.group(3), dot, vars_) or []
                pairs = list(items.items()) if isinstance(items, dict) else list(enumerate(items))
                if not pairs:
                    out.append(self.render_nodes(n[2], dot, dict(vars_)))
                for k, v in pairs:
                    scope = dict(vars_)
                    if m.group(2):
                        scope[m.group(1)], scope[m.group(2)] = k, v
                    elif m.group(1):
                        scope[m.group(1)] = v
                    out.append(self.render_nodes(body, v, scope))
        return "".join(out)

    def render(self) -> dict[str, str]:
        """File name -> rendered text (helpers starting with _ render nothing)."""
        return {
            name: self.render_nodes(nodes, self.root, {"$": self.root})
            for name, nodes in self.templates.items()
            if not name.startswith("_")
        }

    def objects(self) -> list[dict]:
        docs = []
        for name, text in self.render().items():
            for d in yaml.safe_load_all(text):
                if d:
                    d.setdefault("__file__", name)
                    docs.append(d)
        return docs


def truthy(v) -> bool:
    return v not in (None, False, 0, "", [], {})


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def render_chart(chart_dir: Path, overrides: dict | None = None, **kw) -> list[dict]:
    values = yaml.safe_load((Path(chart_dir) / "values.yaml").read_text()) or {}
    return Renderer(chart_dir, merge(values, overrides or {}), **kw).objects()
