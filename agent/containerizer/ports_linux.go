//go:build linux

package containerizer

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// listeningSockets maps the inode of every listening TCP socket (IPv4 and
// IPv6) in the agent's network namespace to its port.
func listeningSockets() (map[uint64]uint64, error) {
	out := map[uint64]uint64{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := readListening(f, out); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // no IPv6
			}
			return nil, err
		}
	}
	return out, nil
}

// tcpListen is the LISTEN state in /proc/net/tcp.
const tcpListen = "0A"

// readListening reads one /proc/net/tcp table:
// "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...",
// the local address in hex, "0100007F:1F90".
func readListening(file string, out map[uint64]uint64) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != tcpListen {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			continue
		}
		inode, err := strconv.ParseUint(fields[9], 10, 64)
		if err != nil || inode == 0 {
			continue
		}
		out[inode] = port
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	return nil
}

// socketInodes lists the inodes of the sockets pid has open; none when it
// is gone.
func socketInodes(pid int) []uint64 {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var out []uint64
	for _, n := range names {
		target, err := os.Readlink(dir + "/" + n)
		if err != nil {
			continue
		}
		if v, ok := strings.CutPrefix(target, "socket:["); ok {
			if inode, err := strconv.ParseUint(strings.TrimSuffix(v, "]"), 10, 64); err == nil {
				out = append(out, inode)
			}
		}
	}
	return out
}

// containerProcs lists the processes of the container whose first process
// is root: its session and root's descendants.
func containerProcs(root int) []int {
	return append([]int{root}, members(table.freshSnapshot(), []target{{root, root}})...)
}
