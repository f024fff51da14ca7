package procstat

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestParentPIDSkipsOddCommandNames(t *testing.T) {
	tests := []struct {
		desc string
		stat string
		want int
		ok   bool
	}{
		{desc: "plain", stat: "42 (nginx) S 7 42 42 0 -1", want: 7, ok: true},
		{desc: "spaces in comm", stat: "42 (log file daemon) S 9 42 42 0", want: 9, ok: true},
		{desc: "parentheses in comm", stat: "42 (a) S 1 (b)) S 13 42 42", want: 13, ok: true},
		{desc: "no closing parenthesis", stat: "42 (broken S 7", ok: false},
		{desc: "no ppid field", stat: "42 (x) S", ok: false},
		{desc: "ppid not a number", stat: "42 (x) S y 1", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, ok := ParentPID([]byte(tt.stat))
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("ParentPID(%q) = %d, %v; want %d, %v", tt.stat, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestTreeCountsChildrenAndDescriptors starts a child and opens sockets,
// and expects both to show in the sums.
func TestTreeCountsChildrenAndDescriptors(t *testing.T) {
	before, err := Proc.Tree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if before.Procs < 1 || before.RSS <= 0 || before.FDs < 3 {
		t.Fatalf("Tree(self) = %+v, want at least one process with memory and stdio", before)
	}
	child := exec.Command("sleep", "10")
	if err := child.Start(); err != nil {
		t.Skipf("cannot start a child: %v", err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conns := make([]net.Conn, 0, 10)
	for range 10 {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	after, err := Proc.Tree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	d := after.Sub(before)
	if d.Procs != 1 {
		t.Errorf("process delta %d, want 1 (the sleep child)", d.Procs)
	}
	// 10 client ends, the listener, and the child's own descriptors.
	if d.FDs < 11 {
		t.Errorf("descriptor delta %d, want at least 11", d.FDs)
	}
	if after.PSS <= 0 {
		t.Errorf("PSS %d, want > 0 (smaps_rollup readable)", after.PSS)
	}
}

func TestTreeFailsForMissingProcess(t *testing.T) {
	if _, err := Proc.Tree(1 << 30); err == nil {
		t.Fatal("Tree of a pid that cannot exist succeeded")
	}
}

// FuzzParentPID: command names are chosen by whoever runs the process, so
// the stat parser must survive any bytes; a found ppid is never negative.
func FuzzParentPID(f *testing.F) {
	f.Add([]byte("42 (nginx) S 7 42 42 0 -1"))
	f.Add([]byte("1 ((sd-pam)) S 0 1"))
	f.Add([]byte("9 (a) b) c) R 3 9"))
	f.Fuzz(func(t *testing.T, stat []byte) {
		if pp, ok := ParentPID(stat); ok && pp < 0 && !bytes.Contains(stat, []byte("-")) {
			t.Fatalf("ParentPID(%q) = %d without a minus sign in the input", stat, pp)
		}
	})
}
