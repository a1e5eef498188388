package mysqlgw

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// fileWatcher re-reads the regions file every interval and applies a new
// version once it has read the same bytes twice in a row: a file caught while
// an editor or config management is still writing it is never applied
// half-written. Reading the content, not trusting mtime and size, also catches
// a rename over the file and a Kubernetes ConfigMap's ..data symlink swap.
type fileWatcher struct {
	path     string
	interval time.Duration
	swap     func(gwtable.Table) (*answers, error) // serves a new table

	applied   [sha256.Size]byte // content of the table being served
	serial    uint32            // its serial
	pending   [sha256.Size]byte // content seen last time, not yet applied
	rejected  [sha256.Size]byte // content that failed to apply, not parsed again
	rejectErr error             // why it failed
	lastErr   string            // so that each distinct error is logged once

	done chan struct{}
	wg   sync.WaitGroup
}

// loaded records the content setup served, so that a version written between
// setup and start is still seen as new.
func (fw *fileWatcher) loaded(content []byte, serial uint32) {
	fw.applied, fw.serial = sha256.Sum256(content), serial
	fw.pending = fw.applied
}

func (fw *fileWatcher) start() {
	fw.done = make(chan struct{})
	fw.wg.Add(1)
	go func() {
		defer fw.wg.Done()
		ticker := time.NewTicker(fw.interval)
		defer ticker.Stop()
		for {
			select {
			case <-fw.done:
				return
			case <-ticker.C:
				fw.check()
			}
		}
	}()
}

func (fw *fileWatcher) stop() {
	if fw.done == nil {
		return
	}
	close(fw.done)
	fw.wg.Wait()
	fw.done = nil
}

// check runs one poll. It is only called from the watcher's goroutine (and
// from tests), so its fields need no lock.
func (fw *fileWatcher) check() {
	content, err := gwtable.ReadFile(fw.path)
	if err != nil {
		fw.fail(err)
		return
	}
	sum := sha256.Sum256(content)
	if sum == fw.applied {
		fw.pending, fw.lastErr, fw.rejected = sum, "", [sha256.Size]byte{}
		return
	}
	if sum != fw.pending {
		fw.pending = sum // changed since the last look: wait until it holds still
		return
	}
	if sum == fw.rejected {
		fw.fail(fw.rejectErr) // logged again only if another error came between
		return
	}
	table, err := gwtable.Parse(content, fw.path)
	var served *answers
	if err == nil {
		served, err = fw.swap(table)
	}
	if err != nil {
		fw.rejected, fw.rejectErr = sum, err
		fw.fail(err)
		return
	}
	if !gwtable.SerialAfter(table.Serial, fw.serial) {
		log.Warningf("%s changed but its serial %d is not above %d: secondaries that compare serials will not see the change", fw.path, table.Serial, fw.serial)
	}
	fw.applied, fw.serial, fw.lastErr, fw.rejected = sum, table.Serial, "", [sha256.Size]byte{}
	reloadCount.WithLabelValues(fw.path).Inc()
	log.Infof("Reloaded %s: %d regions, %d addresses", fw.path, len(served.regions), served.addrs)
}

// fail keeps the last good table, and logs and counts an error the first time
// it is seen, not on every poll.
func (fw *fileWatcher) fail(err error) {
	msg := err.Error()
	if msg == fw.lastErr {
		return
	}
	fw.lastErr = msg
	reloadFailureCount.WithLabelValues(fw.path).Inc()
	log.Errorf("Keeping the last good table: %s", msg)
}
