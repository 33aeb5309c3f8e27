"""MicroVM sandbox latency client (standard library only). Run by bench/microvm.sh, once per gateway:

    microvm_bench.py MODE BASE_URL KEY N      MODE: cold | snapshot | bubblewrap
    microvm_bench.py bare IMAGE_DIR N         QEMU boots the image's kernel straight into an init that exits

Prints one JSON object of millisecond samples per measurement.
"""
import http.client, json, os, subprocess, sys, time, urllib.parse

from benchlib import timed


def bare(image, n):
    # Kernel boot to the start of init: init is busybox `true`, so the kernel panics at once and QEMU (-no-reboot)
    # exits. What remains is QEMU's start, the kernel's boot and the initramfs unpacking: the floor under any VM here.
    kvm = os.path.exists("/dev/kvm")
    argv = ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm" if kvm else "tcg", "-m", "512", "-nodefaults",
            "-no-user-config", "-nographic", "-no-reboot", "-serial", "none", "-kernel", os.path.join(image, "vmlinux"),
            "-initrd", os.path.join(image, "initrd.img"),
            "-append", "console=ttyS0 quiet panic=-1 rdinit=/agw/bin/true" + ("" if kvm else " tsc_early_khz=2000000")]
    return {"bare kernel boot to init (QEMU exits when init does)": timed(lambda: subprocess.run(argv, check=True, stdout=subprocess.DEVNULL), n)}


def gateway(mode, base, key, n):
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=300)
    head = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}

    def call(method, path, body=None):
        conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=head)
        r = conn.getresponse()
        payload = r.read()
        if r.status not in (200, 201):
            raise SystemExit(f"{method} {path}: {r.status} {payload[:300]!r}")
        return json.loads(payload)

    out = {}
    ids = []
    create = lambda: ids.append(call("POST", "/v1/sandboxes", {"runtime": "python"})["id"])

    def create_alone():
        # Each create on a machine with no other VM running: idle guests cost CPU under TCG (their timers are
        # emulated), so VMs left running would slow every later start on these 2 cores.
        t = time.perf_counter()
        create()
        ms = (time.perf_counter() - t) * 1000
        call("DELETE", f"/v1/sandboxes/{ids.pop()}")
        time.sleep(0.5)
        return ms

    if mode == "snapshot":
        out["template: first create (boot + snapshot + restore)"] = [create_alone()]
    out["create to agent-ready" if mode != "snapshot" else "restore from snapshot to agent-ready"] = [create_alone() for _ in range(n)]
    create()
    sid = ids[-1]
    call("POST", f"/v1/sandboxes/{sid}/execute", {"code": "1 + 1"})
    out["execute round trip (`1 + 1`, through the agent)"] = timed(lambda: call("POST", f"/v1/sandboxes/{sid}/execute", {"code": "1 + 1"}), 50)
    for i in ids:
        call("DELETE", f"/v1/sandboxes/{i}")
    return out


if sys.argv[1] == "bare":
    print(json.dumps(bare(sys.argv[2], int(sys.argv[3]))))
else:
    print(json.dumps(gateway(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))))
