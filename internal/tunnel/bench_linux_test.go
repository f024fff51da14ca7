package tunnel

import (
	"net"
	"syscall"
	"testing"
)

// BenchmarkThroughput streams bytes client → origin over loopback three
// ways in the same run: straight to the origin, through a plain io.Copy
// tunnel, and through Join (splice and buffer paths). b.SetBytes makes the
// MB/s column comparable between them.
//
//	go test -run='^$' -bench=Throughput -benchtime=2000x ./internal/tunnel
func BenchmarkThroughput(b *testing.B) {
	const chunk = 1 << 20
	cases := []struct {
		desc string
		// link returns the connection the client writes to and the one the
		// origin reads from.
		link func(b *testing.B) (client, origin *net.TCPConn)
	}{
		{desc: "direct", link: func(b *testing.B) (*net.TCPConn, *net.TCPConn) { return connPair(b) }},
		{desc: "io.Copy tunnel", link: func(b *testing.B) (*net.TCPConn, *net.TCPConn) {
			c, pc := connPair(b)
			po, o := connPair(b)
			go naiveJoin(pc, po)
			return c, o
		}},
		{desc: "Join splice", link: func(b *testing.B) (*net.TCPConn, *net.TCPConn) {
			c, pc := connPair(b)
			po, o := connPair(b)
			go Join(pc, po, Options{})
			return c, o
		}},
		{desc: "Join splice with idle limit", link: func(b *testing.B) (*net.TCPConn, *net.TCPConn) {
			c, pc := connPair(b)
			po, o := connPair(b)
			go Join(pc, po, Options{Idle: 60e9})
			return c, o
		}},
		{desc: "Join buffer", link: func(b *testing.B) (*net.TCPConn, *net.TCPConn) {
			c, pc := connPair(b)
			po, o := connPair(b)
			go Join(opaque{pc}, opaque{po}, Options{})
			return c, o
		}},
	}
	for _, tc := range cases {
		b.Run(tc.desc, func(b *testing.B) {
			client, origin := tc.link(b)
			defer client.Close()
			defer origin.Close()
			sunk := make(chan int64, 1)
			go func() {
				buf := make([]byte, 256<<10)
				var n int64
				for {
					m, err := origin.Read(buf)
					n += int64(m)
					if err != nil {
						sunk <- n
						return
					}
				}
			}()
			src := make([]byte, chunk)
			b.SetBytes(chunk)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for range b.N {
				if _, err := client.Write(src); err != nil {
					b.Fatal(err)
				}
			}
			client.CloseWrite()
			if n := <-sunk; n != int64(b.N)*chunk {
				b.Fatalf("origin got %d bytes, want %d", n, int64(b.N)*chunk)
			}
			// CPU of the whole process (client and sink included, the same
			// in every case) per GiB moved: the differences are the tunnel's.
			b.ReportMetric(float64(cpuTime()-cpu0)/1e6/(float64(b.N)*chunk/(1<<30)), "cpu-ms/GiB")
		})
	}
}

// cpuTime is the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
