package verbosity

import (
	"log/slog"
	"testing"
	"time"
)

func TestSetRaisesAndReverts(t *testing.T) {
	SetBase(slog.LevelWarn)
	defer SetBase(slog.LevelInfo)
	if Get() != 0 || Leveler().Level() != slog.LevelWarn {
		t.Fatalf("start: verbosity %d level %v", Get(), Leveler().Level())
	}
	Set(2, time.Hour)
	if Get() != 2 || Leveler().Level() != slog.LevelDebug {
		t.Fatalf("after Set(2): verbosity %d level %v", Get(), Leveler().Level())
	}
	// A later Set replaces the first one's revert.
	Set(1, 20*time.Millisecond)
	if Get() != 1 {
		t.Fatalf("after Set(1): verbosity %d", Get())
	}
	deadline := time.Now().Add(5 * time.Second)
	for Get() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the verbosity did not revert")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if Leveler().Level() != slog.LevelWarn {
		t.Fatalf("after the revert: level %v, want WARN", Leveler().Level())
	}
	Set(0, time.Hour)
	if Get() != 0 {
		t.Fatalf("Set(0): verbosity %d", Get())
	}
}

func TestStaleRevertDoesNothing(t *testing.T) {
	Set(3, time.Millisecond)
	Set(4, time.Hour)
	time.Sleep(20 * time.Millisecond) // past the first Set's duration: its revert must not undo the second
	if Get() != 4 {
		t.Fatalf("verbosity %d, want 4", Get())
	}
	Set(0, 0)
}
