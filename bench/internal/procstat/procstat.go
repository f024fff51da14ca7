// Package procstat reads what a process tree costs from Linux's /proc:
// resident memory (VmRSS), proportional memory (Pss, which shares pages
// between forked children fairly) and open file descriptors. The benchmark
// tools sum over the whole tree because some proxies (Dante, Squid's log
// daemon) do their work in child processes.
package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Usage is a sum over a process tree.
type Usage struct {
	Procs int   // processes in the tree
	RSS   int64 // bytes, sum of VmRSS
	PSS   int64 // bytes, sum of Pss from smaps_rollup
	FDs   int   // open descriptors
}

// Sub returns u - v field by field.
func (u Usage) Sub(v Usage) Usage {
	return Usage{Procs: u.Procs - v.Procs, RSS: u.RSS - v.RSS, PSS: u.PSS - v.PSS, FDs: u.FDs - v.FDs}
}

// Root is the /proc mount; tests may point it elsewhere.
type Root string

// Proc is the live /proc.
const Proc Root = "/proc"

// Tree sums Usage over pid and all its descendants. A child that exits
// while it is being read is skipped.
func (r Root) Tree(pid int) (Usage, error) {
	pids, err := r.descendants(pid)
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	for _, p := range pids {
		dir := filepath.Join(string(r), strconv.Itoa(p))
		rss, err := kBField(filepath.Join(dir, "status"), "VmRSS:")
		if err != nil {
			if p == pid {
				return Usage{}, err
			}
			continue
		}
		pss, _ := kBField(filepath.Join(dir, "smaps_rollup"), "Pss:")
		fds, err := os.ReadDir(filepath.Join(dir, "fd"))
		if err != nil && p == pid {
			return Usage{}, fmt.Errorf("read fds of pid %d: %w", p, err)
		}
		u.Procs++
		u.RSS += rss
		u.PSS += pss
		u.FDs += len(fds)
	}
	return u, nil
}

// descendants lists pid first, then every process whose parent chain
// leads to it.
func (r Root) descendants(pid int) ([]int, error) {
	if _, err := os.Stat(filepath.Join(string(r), strconv.Itoa(pid))); err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	entries, err := os.ReadDir(string(r))
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(string(r), e.Name(), "stat"))
		if err != nil {
			continue
		}
		if pp, ok := ParentPID(stat); ok {
			children[pp] = append(children[pp], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

// ParentPID takes the ppid from a /proc/PID/stat line. The command name in
// parentheses may itself hold spaces and parentheses (proc(5)), so the
// fields are counted after the last ')'.
func ParentPID(stat []byte) (int, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(stat[i+1:]) // state ppid ...
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(string(f[1]))
	return pp, err == nil
}

// kBField reads a "Key:   123 kB" line from a /proc file, in bytes.
func kBField(file, key string) (int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Bytes()
		if !bytes.HasPrefix(line, []byte(key)) {
			continue
		}
		fields := bytes.Fields(line[len(key):])
		if len(fields) == 0 {
			break
		}
		n, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %s: %w", file, key, err)
		}
		return n * 1024, nil
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no %s line", file, key)
}
