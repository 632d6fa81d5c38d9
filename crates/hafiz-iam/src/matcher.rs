//! Wildcard patterns (`*`, `?`) for actions, resources, principals and the
//! `Like` condition operators.
//!
//! A pattern is a token list rather than a string so that characters coming
//! from a policy variable (or from the `${*}` / `${?}` escapes) stay literal
//! even when they are `*` or `?`: a user named `*` must not widen a policy.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    Lit(char),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters, including `/` and `:`.
    Many,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pattern {
    tokens: Vec<Token>,
}

impl Pattern {
    /// Reads `*` and `?` in `text` as wildcards.
    pub(crate) fn wildcard(text: &str) -> Self {
        let mut p = Self::default();
        p.push_wildcard(text);
        p
    }

    pub(crate) fn push_wildcard(&mut self, text: &str) {
        self.tokens.extend(text.chars().map(|c| match c {
            '*' => Token::Many,
            '?' => Token::One,
            c => Token::Lit(c),
        }));
    }

    pub(crate) fn push_literal(&mut self, text: &str) {
        self.tokens.extend(text.chars().map(Token::Lit));
    }

    /// The pattern read back as plain text, for the operators that compare
    /// for equality and therefore give `*` and `?` no special meaning.
    pub(crate) fn to_text(&self) -> String {
        self.tokens
            .iter()
            .map(|t| match t {
                Token::Lit(c) => *c,
                Token::One => '?',
                Token::Many => '*',
            })
            .collect()
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        match_tokens(&self.tokens, &text)
    }

    pub(crate) fn matches_ignore_case(&self, text: &str) -> bool {
        let folded: Vec<Token> = self
            .tokens
            .iter()
            .flat_map(|t| -> Vec<Token> {
                match t {
                    Token::Lit(c) => c.to_lowercase().map(Token::Lit).collect(),
                    other => vec![*other],
                }
            })
            .collect();
        let text: Vec<char> = text.to_lowercase().chars().collect();
        match_tokens(&folded, &text)
    }

    /// ARN matching as the `Arn*` condition operators do it: each of the six
    /// colon-separated fields is matched on its own, so a `*` cannot swallow
    /// a field boundary. A pattern with fewer than six fields (such as a bare
    /// `*`) is matched against the whole ARN instead, because splitting it
    /// would make it unmatchable although its author clearly meant a glob.
    pub(crate) fn matches_arn(&self, arn: &str) -> bool {
        let pattern_fields = split_fields(&self.tokens);
        if pattern_fields.len() < 6 {
            return self.matches(arn);
        }
        let arn_fields: Vec<&str> = arn.splitn(6, ':').collect();
        if arn_fields.len() < 6 {
            return false;
        }
        pattern_fields.iter().zip(arn_fields).all(|(p, a)| {
            let a: Vec<char> = a.chars().collect();
            match_tokens(p, &a)
        })
    }
}

/// Splits on the first five literal colons, like `str::splitn(6, ':')`.
fn split_fields(tokens: &[Token]) -> Vec<&[Token]> {
    let mut fields = Vec::with_capacity(6);
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if fields.len() == 5 {
            break;
        }
        if *t == Token::Lit(':') {
            fields.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    fields.push(&tokens[start..]);
    fields
}

/// Greedy matching that, on a mismatch, only ever retries from the most
/// recent `*`. That is enough for `*`/`?` globs (an earlier star can never
/// help once a later one has been reached) and bounds the work by
/// `pattern.len() * text.len()`, so hostile patterns such as `a*a*a*…b`
/// cannot trigger exponential backtracking.
fn match_tokens(pattern: &[Token], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Position just after the last `*` seen, and the text index it is
    // currently assumed to have consumed up to.
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::Many) => {
                p += 1;
                resume = Some((p, t));
            }
            Some(Token::One) => {
                p += 1;
                t += 1;
            }
            Some(Token::Lit(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match resume {
                Some((after_star, consumed)) => {
                    p = after_star;
                    t = consumed + 1;
                    resume = Some((after_star, t));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|tok| *tok == Token::Many)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn glob(p: &str, t: &str) -> bool {
        Pattern::wildcard(p).matches(t)
    }

    #[test]
    fn star_and_question_mark() {
        assert!(glob("*", ""));
        assert!(glob("*", "anything/at:all"));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a*c", "ac"));
        assert!(!glob("a*c", "ab"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(!glob("a?c", "abbc"));
        assert!(glob("**a**", "xax"));
        assert!(!glob("", "x"));
        assert!(glob("", ""));
        assert!(glob("arn:aws:s3:::b/*/x?", "arn:aws:s3:::b/1/2/xy"));
    }

    #[test]
    fn retry_from_latest_star_is_complete() {
        assert!(glob("*ab*ac", "abxabac"));
        assert!(glob("*a?b", "aaxb"));
        assert!(!glob("*a?b", "ab"));
    }

    #[test]
    fn question_mark_counts_characters_not_bytes() {
        assert!(glob("?", "é"));
        assert!(!glob("??", "é"));
    }

    #[test]
    fn literal_tokens_do_not_act_as_wildcards() {
        let mut p = Pattern::default();
        p.push_literal("a*");
        assert!(p.matches("a*"));
        assert!(!p.matches("ab"));
        assert_eq!(p.to_text(), "a*");
    }

    #[test]
    fn ignore_case() {
        assert!(Pattern::wildcard("s3:get*").matches_ignore_case("S3:GetObject"));
        assert!(!Pattern::wildcard("s3:get*").matches("s3:GetObject"));
    }

    #[test]
    fn arn_fields_are_matched_separately() {
        let p = Pattern::wildcard("arn:aws:s3:::*");
        assert!(p.matches_arn("arn:aws:s3:::bucket/a:b"));
        let p = Pattern::wildcard("arn:aws:iam::*:user/bob");
        assert!(p.matches_arn("arn:aws:iam::123456789012:user/bob"));
        // A field-limited `*` must not swallow the colon into the next field.
        assert!(!p.matches_arn("arn:aws:iam::1:2:user/bob"));
        assert!(Pattern::wildcard("*").matches_arn("arn:aws:s3:::b"));
        assert!(!Pattern::wildcard("arn:aws:s3:::b").matches_arn("not-an-arn"));
    }

    /// Textbook dynamic-programming glob matcher, obviously correct and
    /// slow, to check the greedy matcher against.
    fn reference(pattern: &[char], text: &[char]) -> bool {
        let mut dp = vec![vec![false; text.len() + 1]; pattern.len() + 1];
        dp[pattern.len()][text.len()] = true;
        for p in (0..pattern.len()).rev() {
            for t in (0..=text.len()).rev() {
                dp[p][t] = match pattern[p] {
                    '*' => dp[p + 1][t] || (t < text.len() && dp[p][t + 1]),
                    '?' => t < text.len() && dp[p + 1][t + 1],
                    c => t < text.len() && text[t] == c && dp[p + 1][t + 1],
                };
            }
        }
        dp[0][0]
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_reference(pattern in "[ab*?]{0,10}", text in "[ab]{0,12}") {
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = text.chars().collect();
            proptest::prop_assert_eq!(glob(&pattern, &text), reference(&p, &t));
        }

        #[test]
        fn arn_matching_never_panics(pattern in "[a:*?]{0,12}", text in "[a:]{0,12}") {
            let _ = Pattern::wildcard(&pattern).matches_arn(&text);
        }
    }

    #[test]
    fn pathological_pattern_finishes_fast() {
        let pattern = Pattern::wildcard("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
        let text = "a".repeat(100_000);
        let start = Instant::now();
        assert!(!pattern.matches(&text));
        let mut with_b = text.clone();
        with_b.push('b');
        assert!(pattern.matches(&with_b));
        // Exponential backtracking would not finish at all on 100k
        // characters; this scan takes a few milliseconds even unoptimised,
        // and the bound leaves room for a loaded machine.
        assert!(
            start.elapsed() < Duration::from_millis(250),
            "took {:?}",
            start.elapsed()
        );
    }
}
