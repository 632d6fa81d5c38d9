import sys, time, os
sys.path.insert(0, "/work/main/tests/py")
from test_erasure import *

def test_probe(server_factory):
    node, objects, blobs = start_with_objects(server_factory, 4, big=False)
    sizes = [o.size for o in objects.values()]
    for d in node.drives[:3]:
        lose_drive(d)
        d.mkdir()
        wait_until(lambda: node.shard_problems(blobs, sizes, drives=[d]), 60, "rebuild")
        assert_all_exact(node, objects, "after " + d.name)
    print("stop rc", node.server.stop())
    node.restart()
    print(node.server.log_tail(40))
    assert_all_exact(node, objects, "after restart")
