package fetch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// expiring is a context whose deadline passes when expire is called: a
// timeout at a chosen step of a run, whatever the machine's speed.
type expiring struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), done: make(chan struct{})}
}

func (e *expiring) expire()               { e.once.Do(func() { close(e.done) }) }
func (e *expiring) Done() <-chan struct{} { return e.done }

func (e *expiring) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// TestFetchTimeoutBoundsTheRun: a timeout that passes during any step of a
// run, the download, the import, the comparison, the guard, the write or
// the rename itself, ends Run at once with an error that says so and what
// the run was doing; the work, let go on afterwards, never replaces FILE
// and leaves no temporary file.
func TestFetchTimeoutBoundsTheRun(t *testing.T) {
	ms := newMicrosoft(t)
	for _, tc := range []struct {
		step  string // the step the timeout passes in
		first bool   // FILE absent: the first write
	}{
		{"downloading " + ms.URL + "/include.md", false},
		{"reading ", false},
		{"importing " + ms.URL + "/include.md", false},
		{"comparing the table with ", false},
		{"measuring what the table would remove and add", false},
		{"writing ", false},
		{"renaming the new table over ", false},
		{"writing ", true},
		{"renaming the new table over ", true},
	} {
		t.Run(tc.step, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "regions")
			ms.serve(t, func(s string) string { return s })
			if !tc.first {
				if _, err := run(t, Options{File: file, URL: ms.URL + "/include.md"}); err != nil {
					t.Fatal(err)
				}
			}
			// A new range for East US: a change the guard lets through.
			ms.serve(t, func(s string) string {
				return strings.Replace(s, "| East US | 20.42.65.64/29,", "| East US | 20.42.66.0/29, 20.42.65.64/29,", 1)
			})
			var before snapshot
			if !tc.first {
				before = snap(t, file)
			}
			ctx := newExpiring()
			release, ended := make(chan struct{}), make(chan struct{})
			opt := Options{File: file, URL: ms.URL + "/include.md", MaxDrop: 10, MaxGrow: 100}
			opt.hook = func(step string) {
				switch {
				case step == "ended":
					close(ended)
				case strings.HasPrefix(step, tc.step):
					ctx.expire()
					<-release // the work goes on only once Run has returned
				}
			}
			_, err := Run(ctx, opt)
			want := "not done within the timeout (while " + tc.step
			if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "): "+file+" is left as it is") {
				t.Errorf("error %v, want %q... %s is left as it is", err, want, file)
			}
			close(release)
			select {
			case <-ended:
			case <-time.After(30 * time.Second):
				t.Fatal("the abandoned work did not end")
			}
			if tc.first {
				if _, err := os.Stat(file); !os.IsNotExist(err) {
					t.Errorf("FILE written after the timeout: %v", err)
				}
			} else {
				before.same(t, file, "a timeout")
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 1 || len(entries) == 1 && entries[0].Name() != "regions" {
				t.Errorf("left in the folder: %v", entries)
			}
		})
	}
}

// TestFetchStopped: a run whose context is cancelled (SIGTERM in a sidecar)
// says it was stopped.
func TestFetchStopped(t *testing.T) {
	ms := newMicrosoft(t)
	ctx, cancel := context.WithCancel(context.Background())
	opt := Options{File: filepath.Join(t.TempDir(), "regions"), URL: ms.URL + "/slow", MaxDrop: 10, MaxGrow: 100}
	opt.hook = func(step string) {
		if strings.HasPrefix(step, "downloading") {
			cancel()
		}
	}
	if _, err := Run(ctx, opt); err == nil || !strings.HasPrefix(err.Error(), "stopped (while downloading "+ms.URL+"/slow): ") {
		t.Errorf("error %v", err)
	}
}
