package gwtable

import (
	"fmt"
	"io"
	"os"
)

// MaxFileSize bounds what the server reads of a regions file (ReadFile). It
// bounds the read, not the table a file describes: a short file of wide
// subnets can still describe many records.
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
