package gwtable

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// MaxFileSize bounds what any read of a regions file takes in (ReadFile and
// ReadAll: the server, diff and fetch). It bounds the read, not the table a
// file describes: 600 KB of /24 subnets, each 256 addresses under several
// names, describe some 15 million records. The server's max_records bounds
// the table.
const MaxFileSize = 16 << 20

// The kinds of ReadError. A watcher reports a kind once until it changes,
// however many polls see it.
const (
	ReadMissing    = "missing"            // the path names nothing
	ReadUnreadable = "unreadable"         // open, stat or read failed
	ReadTooLarge   = "too large"          // more than MaxFileSize bytes
	ReadNotRegular = "not a regular file" // a directory, FIFO, device or socket
	ReadStuck      = "stuck"              // open or read did not return in time
)

// ErrUnchanged is what ReadFileIfChanged returns for a file whose Version is
// the one it was given: the content is not read.
var ErrUnchanged = errors.New("unchanged")

// Version identifies a file's content without reading it: device, inode,
// size and change time. Rewriting the file in place changes its ctime and a
// rename over it changes the inode. The zero Version matches no file.
type Version struct {
	dev, ino uint64
	size     int64
	ctime    time.Time
}

// racyWindow is how recent a change time must not be for a Version to be
// trusted: the kernel stamps ctime from a coarse clock, so a rewrite of the
// same size within the same tick as the last change keeps the ctime. A
// file changed this recently is read again at the next poll.
const racyWindow = time.Second

// ReadError is why a regions file could not be read: its Kind, for telling
// faults apart, and the error naming the path.
type ReadError struct {
	Kind string
	Err  error
}

func (e *ReadError) Error() string { return e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// ReadFile reads a regions file, for the server's start-up and every reload
// alike. It reads only a regular file, and never more than MaxFileSize+1
// bytes. The open does not block on a FIFO (O_NONBLOCK), which is then
// refused; a hung mount can still block it, so callers that must not hang
// use a Reader.
func ReadFile(path string) ([]byte, error) {
	content, _, err := ReadFileIfChanged(path, Version{})
	return content, err
}

// ReadFileIfChanged is ReadFile that returns ErrUnchanged, without reading,
// when the file's Version is last. It also returns the Version read, the zero
// Version when the file changed too recently to be told apart by it.
func ReadFileIfChanged(path string, last Version) ([]byte, Version, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Version{}, &ReadError{ReadMissing, err}
		}
		return nil, Version{}, &ReadError{ReadUnreadable, err}
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, Version{}, &ReadError{ReadUnreadable, err}
	}
	if !info.Mode().IsRegular() {
		return nil, Version{}, &ReadError{ReadNotRegular, fmt.Errorf("%s: is %s, not a regular file", path, describeMode(info.Mode()))}
	}
	v := versionOf(info)
	if time.Since(v.ctime) < racyWindow {
		v = Version{}
	}
	if v != (Version{}) && v == last {
		return nil, v, ErrUnchanged
	}
	content, err := readLimited(f, path)
	return content, v, err
}

// describeMode names a file type that is not a regular file.
func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	default:
		return "not a plain file (" + m.Type().String() + ")"
	}
}

// ReadAll reads a regions file from r, named name in errors, with ReadFile's
// bound. Commands that take any file, a pipe or standard input among them,
// read through it.
func ReadAll(r io.Reader, name string) ([]byte, error) { return readLimited(r, name) }

// readLimited reads r to its end, refusing more than MaxFileSize bytes.
// Errors from an *os.File already name the path.
func readLimited(r io.Reader, path string) ([]byte, error) {
	content, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, &ReadError{ReadUnreadable, err}
	}
	if len(content) > MaxFileSize {
		return nil, &ReadError{ReadTooLarge, fmt.Errorf("%s: larger than %d bytes", path, MaxFileSize)}
	}
	return content, nil
}

// Reader reads one path with ReadFileIfChanged in a goroutine of its own, so
// that a caller can give up on an open or read that never returns (a hung NFS
// or FUSE mount) instead of hanging with it. At most one read is
// outstanding: a caller that finds the last read still running waits for
// that one rather than starting another, so a stuck mount costs one
// goroutine, not one per poll. Its methods must not be called concurrently.
type Reader struct {
	Path string

	running chan readResult // the outstanding read, nil when none
}

type readResult struct {
	content []byte
	version Version
	err     error
}

// ReadWithin returns the file's content and Version (ErrUnchanged if it is
// still last), or a ReadStuck error once timeout passes or stop closes (stop
// may be nil). A read given up on keeps running; the next call collects its
// result if it has one by then.
func (r *Reader) ReadWithin(last Version, timeout time.Duration, stop <-chan struct{}) ([]byte, Version, error) {
	return r.within(ReadFileIfChanged, last, timeout, stop)
}

// within is ReadWithin with the read to run.
func (r *Reader) within(read func(string, Version) ([]byte, Version, error), last Version, timeout time.Duration, stop <-chan struct{}) ([]byte, Version, error) {
	if r.running == nil {
		done := make(chan readResult, 1) // the read never blocks on sending
		r.running = done
		path := r.Path // the goroutine may outlive this call: it touches nothing of r
		go func() {
			content, version, err := read(path, last)
			done <- readResult{content, version, err}
		}()
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case res := <-r.running:
		r.running = nil
		return res.content, res.version, res.err
	case <-timer.C:
		return nil, Version{}, &ReadError{ReadStuck, fmt.Errorf("%s: not read after %s (a hung mount?)", r.Path, timeout)}
	case <-stop:
		return nil, Version{}, &ReadError{ReadStuck, fmt.Errorf("%s: read abandoned", r.Path)}
	}
}
