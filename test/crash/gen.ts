/** Synthetic goroutine dumps for scale tests and benchmarks (shapes of Go 1.22 SIGQUIT output). */
export function generateDump(n: number): string {
  const parts: string[] = ["SIGQUIT: quit", "PC=0x46e3a3 m=0 sigcode=0", ""];
  for (let i = 0; i < n; i++) {
    const id = i + 1;
    const kind = i % 10;
    if (kind < 6) {
      parts.push(
        `goroutine ${id} [chan receive, ${i % 7} minutes]:`,
        `example.com/svc/internal/fanout.(*Pool).wait(0xc000${(i & 0xffff).toString(16)}, 0x${(i % 97).toString(16)}?)`,
        "\t/src/internal/fanout/pool.go:88 +0x4d",
        "example.com/svc/internal/fanout.(*Pool).worker(0xc0001a0000)",
        "\t/src/internal/fanout/pool.go:61 +0x7a",
        "created by example.com/svc/internal/fanout.New in goroutine 1",
        "\t/src/internal/fanout/pool.go:40 +0x11c",
        "",
      );
    } else if (kind < 9) {
      parts.push(
        `goroutine ${id} [sync.Mutex.Lock]:`,
        "sync.runtime_SemacquireMutex(0xc0000a4004?, 0x0?, 0x1?)",
        "\t/usr/local/go/src/runtime/sema.go:77 +0x25",
        "sync.(*Mutex).lockSlow(0xc0000a4000)",
        "\t/usr/local/go/src/sync/mutex.go:171 +0x15d",
        "sync.(*Mutex).Lock(...)",
        "\t/usr/local/go/src/sync/mutex.go:90",
        `example.com/svc/internal/cache.(*Cache).Get(0xc0000a4000, {0xc000${(i & 0xffff).toString(16)}, 0x10})`,
        "\t/src/internal/cache/cache.go:33 +0x47",
        "created by example.com/svc/internal/api.Serve in goroutine 1",
        "\t/src/internal/api/serve.go:19 +0x85",
        "",
      );
    } else {
      parts.push(
        `goroutine ${id} [IO wait]:`,
        "internal/poll.runtime_pollWait(0x7f0c1c2d3e48, 0x72)",
        "\t/usr/local/go/src/runtime/netpoll.go:345 +0x85",
        "net/http.(*persistConn).readLoop(0xc0002a2000)",
        `\t/usr/local/go/src/net/http/transport.go:${2200 + (i % 3)} +0xd95`,
        "created by net/http.(*Transport).dialConn in goroutine 1",
        "\t/usr/local/go/src/net/http/transport.go:1799 +0x152f",
        "",
      );
    }
  }
  return `${parts.join("\n")}\n`;
}
