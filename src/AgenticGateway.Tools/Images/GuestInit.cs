namespace AgenticGateway.Images;

/// <summary>The guest's first process: the initramfs's /init.</summary>
internal static class GuestInit
{
    /// <summary>
    /// pid 1 (busybox sh). Mounts the basics, reseeds the RNG from <c>agw.seed=</c>, loads the modules, mounts the
    /// root disk named by <c>root=</c> read-only under a tmpfs overlay (no <c>root=</c>: the root filesystem is this
    /// initramfs), mounts tmpfs on /tmp (mode 1777) and /home/user (the user's, uid and gid 1000: the agent, root,
    /// starts the user's processes as that user: <c>AGW_USER</c>) (<c>agw.disk=</c> MiB each), moves a template's home
    /// (<c>/agw/home</c>, appended to the initramfs by the gateway) into the latter and replaces itself with the agent
    /// (agw-agent) on <c>agw.transport=</c> (default <c>serial:agent</c>: the virtio-serial port of that name;
    /// Firecracker passes <c>vsock:PORT</c>). A shell is pid 1 with the agent as its child (.NET reaps every child when it is pid 1):
    /// on a virtio-serial port the shell exits when the agent does, the kernel panics and the VM ends (panic=-1, and
    /// QEMU's -no-reboot); on vsock it starts a fresh agent whenever one ends (its connection closed).
    /// </summary>
    public const string Script = """
        #!/agw/bin/busybox sh
        export PATH=/agw/bin
        mount -t proc proc /proc
        mount -t sysfs sys /sys
        mount -t devtmpfs dev /dev
        root=
        disk=512
        transport=serial:agent
        for arg in $(cat /proc/cmdline); do
          case "$arg" in
            agw.seed=*) echo "${arg#agw.seed=}" > /dev/urandom ;;
            agw.disk=*) disk="${arg#agw.disk=}" ;;
            agw.transport=*) transport="${arg#agw.transport=}" ;;
            root=*) root="${arg#root=}" ;;
          esac
        done
        while read -r m; do insmod "/agw/modules/$m" || echo "agw: insmod $m failed" >&2; done < /agw/modules/order
        new=/
        if [ -n "$root" ]; then
          i=0
          while [ ! -b "$root" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
          mkdir -p /agw/lower /agw/rw
          mount -t ext4 -o ro,noload "$root" /agw/lower || { echo "agw: cannot mount $root" >&2; exit 1; }
          mount -t tmpfs -o mode=755,size=${disk}m tmpfs /agw/rw
          mkdir -p /agw/rw/upper /agw/rw/work
          mount -t overlay overlay -o lowerdir=/agw/lower,upperdir=/agw/rw/upper,workdir=/agw/rw/work /newroot || { echo "agw: overlay failed" >&2; exit 1; }
          for d in proc sys dev; do mount --move /$d /newroot/$d; done
          new=/newroot
        fi
        mkdir -p $new/dev/pts $new/dev/shm $new/tmp $new/home/user
        mount -t devpts devpts $new/dev/pts
        mount -t tmpfs -o mode=1777 tmpfs $new/dev/shm
        mount -t tmpfs -o mode=1777,size=${disk}m tmpfs $new/tmp
        mount -t tmpfs -o mode=755,uid=1000,gid=1000,size=${disk}m tmpfs $new/home/user
        # A template's home, appended to the initramfs by the gateway (LayerCpio): moved into the home, owners and modes kept.
        if [ -d /agw/home ]; then
          cp -a /agw/home/. $new/home/user/ || { echo "agw: the template's home does not fit in ${disk} MiB" >&2; exit 1; }
          rm -rf /agw/home
        fi
        hostname sandbox
        ip link set lo up 2>/dev/null
        set -- /opt/agw/agw-agent --transport "$transport" --guest-dir /opt/agw
        # A shell stays pid 1 and runs the agent as its child: .NET reaps every child process when it runs as pid 1,
        # which would take the exit statuses the agent waits for.
        if [ "${transport%%:*}" = vsock ]; then
          # Firecracker: the gateway disconnects from the snapshot template before snapshotting it, and connects to
          # each clone anew, so a fresh agent listens again whenever one ends.
          set -- /bin/sh -c 'while :; do "$@"; sleep 0.05; done' agw-agent "$@"
        else
          set -- /bin/sh -c '"$@"; echo "agw: agent exited ($?)" > /dev/console' agw-agent "$@"
        fi
        env="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/user LANG=C.UTF-8 TERM=xterm AGW_BASH=/bin/bash AGW_USER=1000:1000"
        if [ "$new" = / ]; then cd /home/user && exec env -i $env "$@"; fi
        exec switch_root /newroot /usr/bin/env -i $env "$@"
        """;
}
