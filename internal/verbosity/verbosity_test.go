package verbosity

import (
	"log/slog"
	"testing"
	"time"
)

func TestSetRaisesTheLevelAndRevertsAfterTheDuration(t *testing.T) {
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelInfo)
	v := New(lv)
	if v.Level() != 0 {
		t.Fatalf("level = %d, want 0", v.Level())
	}
	v.Set(2, 50*time.Millisecond)
	if v.Level() != 2 || lv.Level() != slog.LevelDebug {
		t.Fatalf("after Set(2): level %d, slog %v; want 2, DEBUG", v.Level(), lv.Level())
	}
	deadline := time.Now().Add(5 * time.Second)
	for v.Level() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the level did not revert")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if lv.Level() != slog.LevelInfo {
		t.Fatalf("slog level after revert = %v, want INFO", lv.Level())
	}
}

func TestALaterSetReplacesTheEarlierRevert(t *testing.T) {
	v := New(nil)
	v.Set(1, 20*time.Millisecond)
	v.Set(3, time.Hour)
	time.Sleep(60 * time.Millisecond) // past the first revert, which must not fire
	if v.Level() != 3 {
		t.Fatalf("level = %d, want 3 (the first Set's revert fired)", v.Level())
	}
	v.Set(0, 0)
	if v.Level() != 0 {
		t.Fatalf("level = %d, want 0", v.Level())
	}
}
