package httpface

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestCorkConnKeepsOrderAndDelivers: what many goroutines write through a
// corkConn arrives whole and, per writer, in order; Close sends what
// still waits.
func TestCorkConnKeepsOrderAndDelivers(t *testing.T) {
	a, b := net.Pipe()
	c := cork(a)
	got := make(chan []byte)
	go func() {
		all, _ := io.ReadAll(b)
		got <- all
	}()
	var mu sync.Mutex // writers take turns, as http2's serve loop is one writer
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				mu.Lock()
				_, err := c.Write([]byte{byte('a' + w), byte(i)})
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	big := bytes.Repeat([]byte("z"), maxCork+1000) // more than a cork holds
	if _, err := c.Write(big); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	all := <-got
	if len(all) != 4*200*2+len(big) {
		t.Fatalf("read %d bytes, want %d", len(all), 4*200*2+len(big))
	}
	next := map[byte]byte{}
	for i := 0; i < 4*200*2; i += 2 {
		w, n := all[i], all[i+1]
		if n != next[w] {
			t.Fatalf("writer %c: got message %d, want %d", w, n, next[w])
		}
		next[w]++
	}
	if !bytes.Equal(all[4*200*2:], big) {
		t.Error("the large write arrived changed")
	}
}

// TestCorkConnReportsWriteErrors: a write that failed in the background
// fails the next Write, and Close does not wait on a peer that never
// reads.
func TestCorkConnReportsWriteErrors(t *testing.T) {
	a, b := net.Pipe()
	c := cork(a)
	b.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatalf("the first write is taken: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, err := c.Write([]byte("y")); err != nil {
			if !errors.Is(err, io.ErrClosedPipe) {
				t.Logf("error: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a failed background write was never reported")
		}
		time.Sleep(time.Millisecond)
	}
	c.Close()

	// A peer that never reads: Close gives up after its deadline.
	a2, b2 := net.Pipe()
	defer b2.Close()
	c2 := cork(a2)
	c2.Write([]byte("never read"))
	start := time.Now()
	c2.Close()
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Close waited %v on a peer that does not read", took)
	}
}

// TestCorkConnDropsLargeBuffersWhenIdle: once everything is written, an
// idle connection keeps at most keepCork of buffer.
func TestCorkConnDropsLargeBuffersWhenIdle(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go io.Copy(io.Discard, b)
	c := cork(a).(*corkConn)
	if _, err := c.Write(bytes.Repeat([]byte("x"), maxCork)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		c.mu.Lock()
		idle, held := !c.flushing, cap(c.buf)+cap(c.spare)
		c.mu.Unlock()
		if idle {
			if held > 2*keepCork {
				t.Errorf("an idle connection holds %d bytes of buffer", held)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the flush did not end")
		}
		time.Sleep(time.Millisecond)
	}
	c.Close()
}
