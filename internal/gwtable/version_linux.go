package gwtable

import (
	"io/fs"
	"syscall"
	"time"
)

// versionOf is the Version of a file from its fstat.
func versionOf(info fs.FileInfo) Version {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return Version{}
	}
	return Version{dev: uint64(st.Dev), ino: st.Ino, size: st.Size, ctime: time.Unix(st.Ctim.Unix())}
}
