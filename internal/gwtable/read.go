package gwtable

import (
	"fmt"
	"io"
	"os"
)

// MaxFileSize bounds what any read of a regions file takes in (ReadFile and
// ReadAll: the server, diff and fetch). It bounds the read, not the table a
// file describes: 600 KB of /24 subnets, each 256 addresses under several
// names, describe some 15 million records. The server's max_records bounds
// the table.
const MaxFileSize = 16 << 20

// ReadFile reads a regions file, for the server's start-up and every reload
// alike. It never reads more than MaxFileSize+1 bytes: a larger file is
// refused, whatever its size.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, path)
}

// ReadAll reads a regions file from r, named name in errors, with ReadFile's
// bound. Commands that take any file, a pipe or standard input among them,
// read through it.
func ReadAll(r io.Reader, name string) ([]byte, error) { return readLimited(r, name) }

// readLimited reads r to its end, refusing more than MaxFileSize bytes.
func readLimited(r io.Reader, path string) ([]byte, error) {
	content, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(content) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxFileSize)
	}
	return content, nil
}
