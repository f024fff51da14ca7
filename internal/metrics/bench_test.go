package metrics

import (
	"testing"
)

func BenchmarkLog(b *testing.B) {
	m := New(Options{NoRuntime: true})
	es := knownTraffic()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Log(&es[i%len(es)])
	}
}

func BenchmarkLogParallel(b *testing.B) {
	m := New(Options{NoRuntime: true})
	es := knownTraffic()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Log(&es[i%len(es)])
			i++
		}
	})
}
