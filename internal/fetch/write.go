package fetch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// WriteFile writes content to path atomically: a temporary file in the same
// folder, synced, renamed over it, so the server never reads half a file. The
// old file's mode is kept, and its owner and group when this runs as root;
// a symlink's target is what is replaced (a Kubernetes volume or a file
// managed elsewhere keeps its link).
func WriteFile(path string, content []byte) error { return writeFile(path, content, nil) }

// errAbandoned is the error of a write whose run had ended before the
// rename.
var errAbandoned = errors.New("the run ended before the new file replaced the old one")

// writeFile is WriteFile that asks commit, when set, just before the
// rename: false leaves path as it is and removes the temporary file.
func writeFile(path string, content []byte, commit func() bool) error {
	target, err := filepath.EvalSymlinks(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		target = path // a first write
	case err != nil:
		return err
	}
	mode, uid, gid := fs.FileMode(0o644), -1, -1
	if fi, err := os.Stat(target); err == nil {
		mode = fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	dir := filepath.Dir(target)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone already after the rename
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if uid >= 0 {
		if err := tmp.Chown(uid, gid); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if commit != nil && !commit() {
		return errAbandoned
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return err
	}
	// The rename itself lasts only once the folder is synced.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
