package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSeedCommand: seed creates FILE from SRC, leaves an existing FILE as it
// is, and refuses an unreadable or invalid SRC with exit status 2, writing
// nothing.
func TestSeedCommand(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("$SERIAL 5\neastus2 192.0.2.1\nwestus 192.0.2.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// SRC reached through a symlink, as a ConfigMap volume gives it.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "volume", "regions")
	if err := os.Mkdir(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}

	status, out, errOut := runCmd("", "seed", "-o", file, link)
	if status != 0 || out != "wrote "+file+" from "+link+": 2 regions, serial 5\n" || errOut != "" {
		t.Fatalf("first seed: %d %q %q", status, out, errOut)
	}
	assertFile(t, file, "$SERIAL 5\neastus2 192.0.2.1\nwestus 192.0.2.2\n")
	if fi, err := os.Lstat(file); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("%s: %v %v, want a regular file", file, fi, err)
	}

	// A restarted pod's FILE holds what fetch wrote since: kept.
	if err := os.WriteFile(file, []byte("$SERIAL 6\neastus2 192.0.2.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	status, out, errOut = runCmd("", "seed", "-o", file, src)
	if status != 0 || out != file+" exists; left as it is\n" || errOut != "" {
		t.Fatalf("second seed: %d %q %q", status, out, errOut)
	}
	assertFile(t, file, "$SERIAL 6\neastus2 192.0.2.9\n")

	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("eastus2 192.0.2.1 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "volume", "fresh")
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"invalid SRC", []string{"-o", fresh, bad}, bad + ":1: secondary address 192.0.2.1 repeats the primary address"},
		{"missing SRC", []string{"-o", fresh, filepath.Join(dir, "none")}, filepath.Join(dir, "none") + ": no such file or directory"},
		{"unwritable folder", []string{"-o", filepath.Join(dir, "nofolder", "regions"), src}, filepath.Join(dir, "nofolder", "regions") + ": "},
		{"no -o", []string{src}, "seed needs -o FILE"},
		{"no SRC", []string{"-o", fresh}, "seed takes one regions file SRC, got 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, errOut := runCmd("", append([]string{"seed"}, tc.args...)...)
			if status != 2 || out != "" || !strings.Contains(errOut, tc.err) {
				t.Errorf("%d %q %q, want 2 and %q", status, out, errOut, tc.err)
			}
			if _, err := os.Stat(fresh); err == nil {
				t.Errorf("%s written", fresh)
			}
		})
	}
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("%s: %q %v, want %q", path, got, err, want)
	}
}
