package cache

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
)

// diskTier keeps object files under dir/objects and temporary ones under
// dir/tmp. Its queues and byte count are guarded by the cache's lock.
type diskTier struct {
	dir       string
	maxObject int64
	fifo      fifo
	count     int64
	seq       atomic.Uint64
	jobs      chan persistJob
	wg        sync.WaitGroup
	log       *slog.Logger
}

// persistJob writes a memory object to disk after it was committed, so the
// fill never waits for an fsync.
type persistJob struct {
	e    *entry
	m    *meta
	body []byte
}

func openDisk(dir string, capacity, maxObject int64, log *slog.Logger) (*diskTier, error) {
	d := &diskTier{dir: dir, maxObject: maxObject, log: log, jobs: make(chan persistJob, 256)}
	for _, sub := range []string{"objects", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("cache: disk tier %s: %w", dir, err)
		}
	}
	// Temporary files are fills a crash interrupted: never objects.
	tmps, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		return nil, fmt.Errorf("cache: disk tier %s: %w", dir, err)
	}
	for _, t := range tmps {
		_ = os.RemoveAll(filepath.Join(dir, "tmp", t.Name()))
	}
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	d.seq.Store(binary.LittleEndian.Uint64(seed[:]) >> 1)
	return d, nil
}

func (d *diskTier) newPath() string {
	id := d.seq.Add(1)
	return filepath.Join(d.dir, "objects", fmt.Sprintf("%02x", byte(id)), fmt.Sprintf("%016x", id))
}

// tempFile opens a new temporary file.
func (d *diskTier) tempFile() (*os.File, error) {
	return os.CreateTemp(filepath.Join(d.dir, "tmp"), "fill-*")
}

// seal appends the trailer to a complete temporary file, syncs it and gives
// it its final name: only now can a restart see it.
func (d *diskTier) seal(f *os.File, key string, vary []varyField, m *meta, n int64) (string, int64, error) {
	tr := appendTrailer(nil, key, vary, m, n)
	if _, err := f.WriteAt(tr, n); err != nil {
		return "", 0, err
	}
	if err := f.Sync(); err != nil {
		return "", 0, err
	}
	path := d.newPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", 0, err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return "", 0, err
	}
	return path, n + int64(len(tr)), nil
}

// write stores a whole memory object as a new file.
func (d *diskTier) write(key string, vary []varyField, m *meta, body []byte) (string, int64, error) {
	f, err := d.tempFile()
	if err != nil {
		return "", 0, err
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Write(body); err != nil {
		_ = os.Remove(f.Name())
		return "", 0, err
	}
	path, size, err := d.seal(f, key, vary, m, int64(len(body)))
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return path, size, err
}

// loaded is one object found at start.
type loaded struct {
	path string
	size int64
	d    *decoded
	n    int64
}

// scan reads every object file, deleting those that are torn or foreign.
func (d *diskTier) scan() []loaded {
	var out []loaded
	root := filepath.Join(d.dir, "objects")
	_ = filepath.WalkDir(root, func(path string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return nil
		}
		l, err := readObject(path)
		if err != nil {
			d.log.Warn("cache: dropping unreadable object", "path", path, "err", err)
			_ = os.Remove(path)
			return nil
		}
		out = append(out, l)
		if id, err := strconv.ParseUint(filepath.Base(path), 16, 64); err == nil && id >= d.seq.Load() {
			d.seq.Store(id + 1)
		}
		return nil
	})
	return out
}

func readObject(path string) (loaded, error) {
	f, err := os.Open(path)
	if err != nil {
		return loaded{}, err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return loaded{}, err
	}
	size := st.Size()
	if size < trailerLen {
		return loaded{}, fmt.Errorf("%w: %d bytes", errBadObject, size)
	}
	var tb [trailerLen]byte
	if _, err := f.ReadAt(tb[:], size-trailerLen); err != nil {
		return loaded{}, err
	}
	tr, err := parseTrailer(tb[:], size)
	if err != nil {
		return loaded{}, err
	}
	mb := make([]byte, tr.metaLen)
	if _, err := f.ReadAt(mb, tr.contentLen); err != nil && err != io.EOF {
		return loaded{}, err
	}
	dm, err := decodeMeta(mb, tr.crc)
	if err != nil {
		return loaded{}, err
	}
	return loaded{path: path, size: size, d: dm, n: tr.contentLen}, nil
}

// readContent reads a stored object's content.
func readContent(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && !(err == io.EOF && n == 0) {
		return nil, err
	}
	return b, nil
}
