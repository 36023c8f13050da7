package codec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The units of Mesos's byte sizes (stout's Bytes), powers of 1024.
var byteUnits = []struct {
	name string
	size int64
}{
	{"TB", 1 << 40},
	{"GB", 1 << 30},
	{"MB", 1 << 20},
	{"KB", 1 << 10},
	{"B", 1},
}

// ParseBytes parses a Mesos byte size such as "2GB", "512MB", "1.5KB" or
// "100B": a non-negative number and one of the units B, KB, MB, GB, TB
// (powers of 1024). The IEC spellings KiB, MiB, GiB and TiB are taken as
// the same units.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if n := len(t); n >= 3 && strings.HasSuffix(t, "iB") && strings.ContainsRune("KMGT", rune(t[n-3])) {
		t = t[:n-2] + "B"
	}
	for _, u := range byteUnits {
		num, ok := strings.CutSuffix(t, u.name)
		if !ok {
			continue
		}
		if u.name == "B" && strings.ContainsAny(num[len(num)-min(1, len(num)):], "KMGT") {
			break
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, fmt.Errorf("invalid byte size %q: want a number and a unit (B, KB, MB, GB, TB), e.g. 2GB", s)
		}
		b := v * float64(u.size)
		if b >= math.MaxInt64 {
			return 0, fmt.Errorf("byte size %q is too large", s)
		}
		return int64(b), nil
	}
	return 0, fmt.Errorf("invalid byte size %q: want a number and a unit (B, KB, MB, GB, TB), e.g. 2GB", s)
}

// FormatBytes renders a byte size as Mesos does: in the largest unit that
// divides it exactly ("2GB", "1536KB", "100B").
func FormatBytes(b int64) string {
	for _, u := range byteUnits {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(b/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(b, 10) + "B"
}
