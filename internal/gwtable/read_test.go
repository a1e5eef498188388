package gwtable

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/testutil"
)

// readBounded runs ReadFile and fails the test if it has not returned within
// a generous bound, instead of hanging the test binary.
func readBounded(t *testing.T, path string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := ReadFile(path)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("ReadFile(%s) blocked", path)
		return nil
	}
}

// Anything but a regular file is refused, by kind, naming the path once; a
// FIFO with no writer does not block the open.
func TestReadFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		path, kind, text string
	}{
		{fifo, ReadNotRegular, fifo + ": is a named pipe (FIFO), not a regular file"},
		{dir, ReadNotRegular, dir + ": is a directory, not a regular file"},
		{"/dev/null", ReadNotRegular, "/dev/null: is a device, not a regular file"},
		{missing, ReadMissing, "open " + missing + ": no such file or directory"},
	} {
		err := readBounded(t, tc.path)
		var re *ReadError
		if !errors.As(err, &re) || re.Kind != tc.kind || err.Error() != tc.text {
			t.Errorf("%s: %v, want %s error %q", tc.path, err, tc.kind, tc.text)
		}
		if strings.Count(err.Error(), tc.path) != 1 {
			t.Errorf("%q names the path more than once", err)
		}
	}
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(good, []byte("lab 127.0.0.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if content, err := ReadFile(good); err != nil || string(content) != "lab 127.0.0.2\n" {
		t.Errorf("regular file: %q, %v", content, err)
	}
}

// A read that never returns is given up on at the timeout and on stop, and
// stays the only one running: later calls wait for it instead of starting
// more, and collect its result once it returns.
func TestReaderAbandonsStuckRead(t *testing.T) {
	release := make(chan struct{})
	started := 0
	stuck := func(string, Version) ([]byte, Version, error) {
		started++ // only the first read's goroutine runs while the test reads this
		<-release
		return []byte("late"), Version{}, nil
	}
	r := &Reader{Path: "stuck"}
	_, _, err := r.within(stuck, Version{}, 50*time.Millisecond, nil)
	var re *ReadError
	if !errors.As(err, &re) || re.Kind != ReadStuck || !strings.Contains(err.Error(), "stuck: not read after 50ms") {
		t.Fatalf("stuck read: %v", err)
	}
	stop := make(chan struct{})
	close(stop)
	if _, _, err := r.within(stuck, Version{}, time.Hour, stop); !errors.As(err, &re) || re.Kind != ReadStuck {
		t.Fatalf("stopped read: %v", err)
	}
	close(release)
	content, _, err := r.within(stuck, Version{}, 10*time.Second, nil)
	if err != nil || string(content) != "late" {
		t.Fatalf("after release: %q, %v", content, err)
	}
	if started != 1 {
		t.Fatalf("%d reads started, want 1", started)
	}
}

// A file left alone is not read again once its change time is older than the
// racy window; rewriting it in place with the same size, or renaming another
// file of the same size over it, is seen.
func TestReadFileIfChanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "regions")
	if err := os.WriteFile(path, []byte("lab 127.0.0.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var v Version
	testutil.Until(t, 10*time.Second, "a trusted Version", func() bool {
		_, v, _ = ReadFileIfChanged(path, Version{})
		return v != Version{}
	})
	if _, _, err := ReadFileIfChanged(path, v); !errors.Is(err, ErrUnchanged) {
		t.Fatalf("unchanged file: %v", err)
	}
	if err := os.WriteFile(path, []byte("lab 127.0.0.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if content, _, err := ReadFileIfChanged(path, v); err != nil || string(content) != "lab 127.0.0.3\n" {
		t.Fatalf("rewritten in place: %q, %v", content, err)
	}
	testutil.Until(t, 10*time.Second, "a trusted Version", func() bool {
		_, v, _ = ReadFileIfChanged(path, Version{})
		return v != Version{}
	})
	tmp := filepath.Join(dir, "new")
	if err := os.WriteFile(tmp, []byte("lab 127.0.0.4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if content, _, err := ReadFileIfChanged(path, v); err != nil || string(content) != "lab 127.0.0.4\n" {
		t.Fatalf("renamed over: %q, %v", content, err)
	}
}
