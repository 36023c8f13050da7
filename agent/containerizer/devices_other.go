//go:build !linux

package containerizer

import "fmt"

// deviceNumber needs Linux's device numbers.
func deviceNumber(path string) (byte, int64, int64, error) {
	return 0, 0, 0, fmt.Errorf("device %s: device lists need Linux", path)
}
