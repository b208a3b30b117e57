package bench

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A section is one "## " part of a results file: its title line and the
// lines up to the next title.
type section struct {
	title string
	body  []string
}

// number is the section's "## N." number, or a large one for sections
// without one (Running), which stay last.
func (s section) number() int {
	t := strings.TrimPrefix(s.title, "## ")
	n, _, ok := strings.Cut(t, ".")
	if !ok {
		return 1 << 30
	}
	v, err := strconv.Atoi(n)
	if err != nil {
		return 1 << 30
	}
	return v
}

// splitSections cuts markdown into the preamble before the first "## "
// title and the sections after it.
func splitSections(doc []byte) (preamble []string, sections []section) {
	lines := strings.Split(strings.TrimRight(string(doc), "\n"), "\n")
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "## "):
			sections = append(sections, section{title: l})
		case len(sections) == 0:
			preamble = append(preamble, l)
		default:
			sections[len(sections)-1].body = append(sections[len(sections)-1].body, l)
		}
	}
	return preamble, sections
}

// mergedNote is the line the preamble of a merged results file carries, so
// that a reader knows its sections may come from different runs.
const mergedNote = "Some sections below were measured by a later run than this header's: each such section says when, and by which command."

// Merge writes the sections of a fresh report into an earlier results
// file: a benchmark run with -only then refreshes its own sections and
// keeps the others, which a whole run on a 2-core machine takes more than
// an hour to measure again. Each refreshed section starts with the date
// and command of its run; sections are kept in their numbered order; the
// earlier file's header, machine table and "Running" section stay.
func Merge(earlier []byte, fresh *Report) []byte {
	var buf bytes.Buffer
	fresh.Write(&buf)
	_, news := splitSections(buf.Bytes())
	pre, olds := splitSections(earlier)
	stamp := fmt.Sprintf("_Measured on %s by `%s` (the whole run took %s), on the machine of the header; flags not on that command had their defaults._",
		fresh.Started.UTC().Format("2006-01-02 15:04 MST"), fresh.Command, fresh.Took.Round(time.Second))
	if len(fresh.Machine.BusySlots) > 0 {
		stamp += fmt.Sprintf(" **%d other slot(s) were streaming at the start** (%s), so its rates are low.",
			len(fresh.Machine.BusySlots), strings.Join(fresh.Machine.BusySlots, ", "))
	}
	for _, n := range news {
		if n.number() == 1<<30 {
			continue // "Running" describes the program, and stays as it was
		}
		n.body = append([]string{"", stamp}, n.body...)
		replaced := false
		for i := range olds {
			if olds[i].number() == n.number() {
				olds[i], replaced = n, true
			}
		}
		if !replaced {
			at := len(olds)
			for i := range olds {
				if olds[i].number() > n.number() {
					at = i
					break
				}
			}
			olds = append(olds[:at], append([]section{n}, olds[at:]...)...)
		}
	}
	if !containsLine(pre, mergedNote) {
		for len(pre) > 0 && pre[len(pre)-1] == "" {
			pre = pre[:len(pre)-1]
		}
		pre = append(pre, "", mergedNote, "")
	}
	var out bytes.Buffer
	for _, l := range pre {
		out.WriteString(l + "\n")
	}
	for _, s := range olds {
		out.WriteString(s.title + "\n")
		for _, l := range s.body {
			out.WriteString(l + "\n")
		}
	}
	return out.Bytes()
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}
