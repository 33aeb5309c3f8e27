// The agent runs inside Linux guests only (epoll, pidfds, posix_spawn, /proc).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
