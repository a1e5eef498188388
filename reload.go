package mysqlgw

import (
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// readTimeout bounds how long start-up, a Corefile reload and a poll wait
// for the regions file to be opened and read. A local file of MaxFileSize
// reads in milliseconds; a file that takes longer sits on a hung mount,
// and waiting for it would hold up the signals CoreDNS handles one at a time
// (a SIGUSR1 reload that never ends makes SIGTERM wait behind it).
const readTimeout = time.Second

// pollReadTimeout bounds a poll's wait, longer than readTimeout: stop
// abandons a poll at once, so only the log line waits, and a large file on a
// loaded machine is not mistaken for a hung mount.
const pollReadTimeout = 10 * time.Second

// fileWatcher looks at the regions file every interval and applies a new
// version once it has read the same bytes twice in a row: a file caught while
// an editor or config management is still writing it is never applied
// half-written. A poll skips the read when the file's device, inode, size and
// change time are those of the version applied (gwtable.Version), which a
// rename over the file and a Kubernetes ConfigMap's ..data symlink swap
// change, and reads it again whenever its change time is too recent to tell
// two writes apart.
type fileWatcher struct {
	path     string
	interval time.Duration
	prepare  func(gwtable.Table) (*loaded, error) // builds a new table, without side effects
	serve    func(*loaded) facts                  // serves it
	reader   gwtable.Reader                       // one read at a time, abandoned when stuck

	serialRises bool // transfer_health: a serial not above the last is continued, not served as it is

	applied   [sha256.Size]byte // content of the table being served
	version   gwtable.Version   // the file's version when it held that content
	serial    uint32            // its serial
	pending   [sha256.Size]byte // content seen last time, not yet applied
	rejected  [sha256.Size]byte // content that failed to apply, not parsed again
	rejectErr error             // why it failed
	lastFault fault             // so that each fault is logged and counted once

	done chan struct{}
	wg   sync.WaitGroup
}

// loaded records the content setup served, so that a version written between
// setup and start is still seen as new.
func (fw *fileWatcher) loaded(content []byte, version gwtable.Version, serial uint32) {
	fw.applied, fw.version, fw.serial = sha256.Sum256(content), version, serial
	fw.pending = fw.applied
}

func (fw *fileWatcher) start() {
	done := make(chan struct{})
	fw.done = done
	fw.wg.Add(1)
	go func() {
		defer fw.wg.Done()
		ticker := time.NewTicker(fw.interval)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				fw.poll(done)
			}
		}
	}()
}

// stopWait bounds how long stop waits for a poll under way: a read stuck on
// a hung mount is abandoned at once, and a table being built for longer is
// left to finish and be thrown away, so that SIGTERM during any reload
// stops the server promptly.
const stopWait = time.Second

// stop ends the watcher. A poll that is reading or building when it is
// called serves nothing afterwards.
func (fw *fileWatcher) stop() {
	if fw.done == nil {
		return
	}
	close(fw.done)
	fw.done = nil // the poll under way keeps the channel it was given
	ended := make(chan struct{})
	go func() { fw.wg.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(stopWait):
	}
}

// check runs one poll. It is only called from the watcher's goroutine (and
// from tests), so its fields need no lock.
func (fw *fileWatcher) check() { fw.poll(fw.done) }

// poll is one poll, given up on when done closes.
func (fw *fileWatcher) poll(done <-chan struct{}) {
	fw.reader.Path = fw.path
	content, version, err := fw.reader.ReadWithin(fw.version, pollReadTimeout, done)
	select {
	case <-done:
		return // stopping: a read abandoned now is no fault of the file
	default:
	}
	var sum [sha256.Size]byte
	switch {
	case errors.Is(err, gwtable.ErrUnchanged):
		// Not read: the file is the version applied. Reading and hashing a
		// 15 MiB file took 66 ms, two thirds of a core at reload 100ms.
		sum = fw.applied
	case err != nil:
		fw.fail(readFault(err), err)
		return
	default:
		sum = sha256.Sum256(content)
	}
	if sum == fw.applied {
		fw.version = version // the same content, maybe touched or renamed over
		fw.pending, fw.lastFault, fw.rejected = sum, fault{}, [sha256.Size]byte{}
		return
	}
	if sum != fw.pending {
		fw.pending = sum // changed since the last look: wait until it holds still
		return
	}
	if sum == fw.rejected {
		fw.fail(fault{content: sum}, fw.rejectErr) // logged again only if another fault came between
		return
	}
	table, err := gwtable.Parse(content, fw.path)
	var l *loaded
	if err == nil {
		l, err = fw.prepare(table)
	}
	if err != nil {
		fw.rejected, fw.rejectErr = sum, err
		fw.fail(fault{content: sum}, err)
		return
	}
	select {
	case <-done:
		return // stopped while it was built: the instance serves nothing more
	default:
	}
	served := fw.serve(l)
	switch {
	case gwtable.SerialAfter(table.Serial, fw.serial):
	case fw.serialRises:
		log.Warningf("%s changed but its serial %d is not above %d: the zones' serials continue from the ones served (transfer_health)", fw.path, table.Serial, fw.serial)
	default:
		log.Warningf("%s changed but its serial %d is not above %d: secondaries that compare serials will not see the change", fw.path, table.Serial, fw.serial)
	}
	fw.applied, fw.version, fw.serial = sum, version, table.Serial
	fw.lastFault, fw.rejected = fault{}, [sha256.Size]byte{}
	reloadCount.WithLabelValues(fw.path).Inc()
	log.Infof("Reloaded %s: %d regions, %d addresses", fw.path, served.regions, served.addresses)
}

// fault identifies what went wrong, so that a poll seeing the same fault
// again neither logs nor counts it: a version that failed to apply is its
// content (a new version failing with the same message is a new fault), a
// file that could not be read is the kind of read error (a missing file
// stays one fault however long it stays missing).
type fault struct {
	content [sha256.Size]byte
	read    string // a gwtable.ReadError kind
}

// readFault is the fault a read error stands for.
func readFault(err error) fault {
	var re *gwtable.ReadError
	if errors.As(err, &re) {
		return fault{read: re.Kind}
	}
	return fault{read: gwtable.ReadUnreadable}
}

// fail keeps the last good table, and logs and counts a fault the first time
// it is seen, not on every poll.
func (fw *fileWatcher) fail(f fault, err error) {
	if f == fw.lastFault {
		return
	}
	fw.lastFault = f
	reloadFailureCount.WithLabelValues(fw.path).Inc()
	log.Errorf("Keeping the last good table: %s", err)
}
