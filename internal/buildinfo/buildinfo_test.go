package buildinfo

import (
	"testing"
	"time"

	"github.com/gomesos/gomesos/codec"
)

func TestReadDescribesThisBinary(t *testing.T) {
	b := Read()
	if b.Version != codec.MesosVersion {
		t.Errorf("version %q, want %q", b.Version, codec.MesosVersion)
	}
	d, err := time.Parse(time.DateTime, b.Date)
	if err != nil || d.Unix() != int64(b.Time) {
		t.Errorf("build date %q and time %v disagree (%v)", b.Date, b.Time, err)
	}
}
