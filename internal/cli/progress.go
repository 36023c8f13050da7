package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// IsTerminal says whether f is a terminal (and so gets a progress bar
// rather than plain lines).
func IsTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

// progressBar draws the tasks' progress on one terminal line, redrawn in
// place: "[#####.....] 5/10 done (1 failed), 3 running".
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	total int
	last  string
	ended bool
}

const barWidth = 30

func (p *progressBar) draw(running, finished, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	done := finished + failed
	fill := 0
	if p.total > 0 {
		fill = done * barWidth / p.total
	}
	line := fmt.Sprintf("[%s%s] %d/%d done", strings.Repeat("#", fill), strings.Repeat(".", barWidth-fill), done, p.total)
	if failed > 0 {
		line += fmt.Sprintf(" (%d failed)", failed)
	}
	line += fmt.Sprintf(", %d running", running)
	if line == p.last {
		return
	}
	pad := ""
	if n := len(p.last) - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.last = line
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
}

// finish ends the bar's line.
func (p *progressBar) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ended {
		p.ended = true
		fmt.Fprintln(p.w)
	}
}
