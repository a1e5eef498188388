package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// runCmd runs the command with args and returns its exit status, standard
// output and standard error.
func runCmd(stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	status := run(args, strings.NewReader(stdin), &out, &errOut)
	return status, out.String(), errOut.String()
}

// TestImportCommand covers the command's arguments and exit statuses; test/import_test.go
// runs the built command on every fixture.
func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	old := write("old", "$SERIAL 1\neastus2 192.0.2.1\n")
	same := write("same", "$SERIAL 2\neastus2 192.0.2.1\n")
	changed := write("changed", "$SERIAL 1\neastus2 192.0.2.2\n")
	bad := write("bad", "eastus2 192.0.2.1 192.0.2.1\n")
	const page = "| Region name | Gateway IP address ranges |\n|---|---|\n| East US 2 | 192.0.2.0/29 |\n"
	for _, tc := range []struct {
		name     string
		stdin    string
		args     []string
		status   int
		out, err string // substrings; out "" means empty
	}{
		{"no command", "", nil, 2, "", "usage: mysqlgw-regions import"},
		{"unknown command", "", []string{"merge"}, 2, "", `mysqlgw-regions: unknown command "merge"`},
		{"import without FILE", "", []string{"import"}, 2, "", "import takes one FILE (or - for standard input), got 0"},
		{"import bad flag", "", []string{"import", "-x", "f"}, 2, "", "flag provided but not defined: -x"},
		{"import serial too large", page, []string{"import", "-serial", "4294967296", "-"}, 2, "", "-serial 4294967296: a serial is at most 4294967295"},
		{"import missing file", "", []string{"import", filepath.Join(dir, "none")}, 2, "", "no such file or directory"},
		{"import from standard input", page, []string{"import", "-serial", "7", "-"}, 0,
			"# Imported by mysqlgw-regions from standard input\n", ""},
		{"import error writes nothing", page + "| West US | 192.0.2.1 |\n", []string{"import", "-"}, 2, "",
			`mysqlgw-regions: standard input:4: "Gateway IP address ranges": "192.0.2.1" is an address; a subnet is a prefix such as 104.208.150.192/29`},
		{"import warnings", page + "||||\n", []string{"import", "-"}, 0, "eastus2 subnets 192.0.2.0/29\n", "warning: standard input:4: an empty row; skipped\n"},
		{"diff one file", "", []string{"diff", old}, 2, "", "diff takes two regions files, OLD and NEW, got 1"},
		{"diff unchanged", "", []string{"diff", old, same}, 0, "", ""},
		{"diff changed", "", []string{"diff", old, changed}, 1, "eastus2\n  + gateway 192.0.2.2\n  - gateway 192.0.2.1\n",
			"warning: " + changed + " changes the table but its serial 1 does not come after"},
		{"diff bad file", "", []string{"diff", old, bad}, 2, "", bad + ":1: secondary address 192.0.2.1 repeats the primary address"},
		{"diff missing file", "", []string{"diff", filepath.Join(dir, "none"), old}, 2, "", "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, errOut := runCmd(tc.stdin, tc.args...)
			if status != tc.status {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", status, tc.status, out, errOut)
			}
			if (tc.out == "") != (out == "") || !strings.Contains(out, tc.out) {
				t.Errorf("stdout %q, want %q", out, tc.out)
			}
			if (tc.err == "") != (errOut == "") || !strings.Contains(errOut, tc.err) {
				t.Errorf("stderr %q, want %q", errOut, tc.err)
			}
		})
	}
}

// TestCommandOutputBounded: input the command refuses or complains about
// never makes output in proportion to it.
func TestCommandOutputBounded(t *testing.T) {
	const head = "| Region name | Gateway IP address ranges |\n|---|---|\n"
	old := filepath.Join(t.TempDir(), "old")
	if err := os.WriteFile(old, []byte("eastus2 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		stdin  string
		args   []string
		status int
		err    string // what stderr starts with
		has    string // and what else it says
	}{
		// A device that never ends is refused after MaxFileSize bytes.
		{"diff /dev/zero", "", []string{"diff", "/dev/zero", old}, 2, "mysqlgw-regions: /dev/zero: larger than 16777216 bytes", ""},
		{"diff /dev/zero as NEW", "", []string{"diff", old, "/dev/zero"}, 2, "mysqlgw-regions: /dev/zero: larger than 16777216 bytes", ""},
		// A pipe is read through the same bound.
		{"diff a pipe", "", []string{"diff", fifo(t, "eastus2 192.0.2.1\n"), old}, 0, "", ""},
		{"diff a too large pipe", "", []string{"diff", fifo(t, strings.Repeat("#\n", 9<<20)), old}, 2, "mysqlgw-regions: ", ": larger than 16777216 bytes\n"},
		{"diff a 10 MB token", "", []string{"diff", fifo(t, "eastus2 \x00\x1b[2J"+strings.Repeat("1", 10<<20)+"\n"), old}, 2, "mysqlgw-regions: ",
			`:1: primary address: "\x00\x1b[2J111`},
		{"import a 10 MB cell", head + "| East US 2 | \x00\x1b[2J" + strings.Repeat("1", 10<<20) + " |\n", []string{"import", "-"}, 2,
			`mysqlgw-regions: standard input:3: "Gateway IP address ranges": "\x00\x1b[2J111`, "… (10485765 bytes) is an address; a subnet is a prefix such as 104.208.150.192/29\n"},
		{"import a 10 MB cell of one subnet", head + "| East US 2 | 192.0.2.0/29" + strings.Repeat(" 192.0.2.0/29", 800<<10) + " |\n", []string{"import", "-"}, 0,
			"warning: standard input:3: eastus2: subnet 192.0.2.0/29 is listed twice; kept once\n", "\nwarning: 819100 more warnings not shown\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, errOut := runCmd(tc.stdin, tc.args...)
			if status != tc.status || !strings.HasPrefix(errOut, tc.err) || !strings.Contains(errOut, tc.has) || len(errOut) > 12<<10 || strings.ContainsAny(errOut, "\x00\x1b") {
				t.Errorf("exit status %d, stderr %.300q (%d bytes); want status %d and a short stderr starting %q", status, errOut, len(errOut), tc.status, tc.err)
			}
		})
	}
}

// fifo is a named pipe that serves content to the first reader.
func fifo(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	// A test that fails before reading the pipe must not leave the
	// writer waiting: a reader of its own lets it open and finish.
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	go func() {
		// Opening for writing waits for the reader; a reader that stops
		// early closes the pipe, which fails the write and ends it.
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		f.WriteString(content)
	}()
	return path
}
