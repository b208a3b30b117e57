package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The kinds of process a CPUShare tells apart.
const (
	cpuPostgres  = "PostgreSQL"
	cpuSearch    = "search engine"
	cpuProjector = "projector"
	cpuBench     = "projector-bench"
	cpuOther     = "other"
)

// cpuKinds lists the kinds in the order the report shows them.
func cpuKinds() []string {
	return []string{cpuPostgres, cpuSearch, cpuProjector, cpuBench, cpuOther}
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat and /proc/stat:
// Linux reports them in USER_HZ ticks, 100 per second on every platform
// it supports.
const userHZ = 100

// CPUShare is how the machine's CPU time was spent over a window: CPU
// seconds by kind of process, and the seconds the cores were idle. On a
// machine that runs PostgreSQL, the search engine, projector and the load
// all at once, it shows which of them a rate was bounded by.
type CPUShare struct {
	Window  time.Duration
	Seconds map[string]float64 // CPU seconds by kind (cpuKinds)
	Idle    float64            // CPU seconds no process used, summed over the cores
}

// Cores is the average number of cores kind kept busy over the window.
func (s CPUShare) Cores(kind string) float64 {
	if s.Window <= 0 {
		return 0
	}
	return s.Seconds[kind] / s.Window.Seconds()
}

// IdleCores is the average number of idle cores over the window.
func (s CPUShare) IdleCores() float64 {
	if s.Window <= 0 {
		return 0
	}
	return s.Idle / s.Window.Seconds()
}

// add sums two windows, such as the rounds of one contender.
func (s CPUShare) add(o CPUShare) CPUShare {
	sum := CPUShare{Window: s.Window + o.Window, Seconds: map[string]float64{}, Idle: s.Idle + o.Idle}
	for _, kind := range cpuKinds() {
		sum.Seconds[kind] = s.Seconds[kind] + o.Seconds[kind]
	}
	return sum
}

// cpuSampler reads the CPU time of every process from /proc every few
// hundred milliseconds. Polling, rather than reading the totals once at
// each end, counts the processes that start and end inside the window,
// such as PostgreSQL backends; a process that ends loses at most its last
// interval.
type cpuSampler struct {
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	start    time.Time
	end      time.Time
	self     int
	// first and last are each process's CPU ticks when it was first and
	// last seen; a process first seen after the start began inside the
	// window and counts from zero.
	first, last map[int]int64
	comm        map[int]string
	idleStart   int64
	idleEnd     int64
}

const cpuSampleEvery = 250 * time.Millisecond

// startCPUSampler starts sampling; stop ends it and returns the share.
func startCPUSampler() *cpuSampler {
	s := &cpuSampler{stop: make(chan struct{}), done: make(chan struct{}), self: os.Getpid(),
		first: map[int]int64{}, last: map[int]int64{}, comm: map[int]string{}}
	s.start = time.Now()
	s.idleStart = machineIdleTicks()
	s.sample(true)
	go s.run()
	return s
}

func (s *cpuSampler) run() {
	defer close(s.done)
	t := time.NewTicker(cpuSampleEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.sample(false)
			s.end = time.Now()
			s.idleEnd = machineIdleTicks()
			return
		case <-t.C:
			s.sample(false)
		}
	}
}

// sample reads every process's CPU ticks. Processes that end between
// listing /proc and reading their stat file are skipped.
func (s *cpuSampler) sample(initial bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, ticks, ok := procCPU(pid)
		if !ok {
			continue
		}
		if _, seen := s.first[pid]; !seen {
			s.first[pid] = 0
			if initial {
				s.first[pid] = ticks
			}
		}
		s.last[pid] = ticks
		s.comm[pid] = comm
	}
}

// finish stops sampling and returns the share of the window.
func (s *cpuSampler) finish() CPUShare {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	share := CPUShare{Window: s.end.Sub(s.start), Seconds: map[string]float64{}}
	for pid, ticks := range s.last {
		share.Seconds[s.kind(pid)] += float64(ticks-s.first[pid]) / userHZ
	}
	if s.idleStart >= 0 && s.idleEnd >= s.idleStart {
		share.Idle = float64(s.idleEnd-s.idleStart) / userHZ
	}
	return share
}

func (s *cpuSampler) kind(pid int) string {
	switch comm := s.comm[pid]; {
	case pid == s.self:
		return cpuBench
	case comm == "projector":
		return cpuProjector
	case comm == "postgres":
		return cpuPostgres
	case comm == "java":
		return cpuSearch
	}
	return cpuOther
}

// procCPU reads a process's command name and its user plus system CPU
// ticks from /proc/<pid>/stat.
func procCPU(pid int) (comm string, ticks int64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	return parseProcStat(b)
}

// parseProcStat reads the command name and the user plus system CPU ticks
// from the contents of a /proc/<pid>/stat file.
func parseProcStat(b []byte) (comm string, ticks int64, ok bool) {
	// The command name is in parentheses and may itself hold spaces and
	// parentheses: the fields start after the last ')'.
	lp, rp := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if lp < 0 || rp < lp {
		return "", 0, false
	}
	fields := strings.Fields(string(b[rp+1:]))
	// After the name: state(0) ppid pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime(11) stime(12).
	if len(fields) < 13 {
		return "", 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, false
	}
	return string(b[lp+1 : rp]), utime + stime, true
}

// machineIdleTicks reads the idle and iowait ticks of all cores from
// /proc/stat; -1 when it cannot.
func machineIdleTicks() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	// cpu user nice system idle(4) iowait(5) ...
	if len(fields) < 6 || fields[0] != "cpu" {
		return -1
	}
	idle, err1 := strconv.ParseInt(fields[4], 10, 64)
	iowait, err2 := strconv.ParseInt(fields[5], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return idle + iowait
}

// cpuRow formats a share as the cells of a report row: cores per kind,
// then idle cores.
func cpuRow(s CPUShare) string {
	kinds := cpuKinds()
	cells := make([]string, 0, len(kinds)+1)
	for _, kind := range kinds {
		cells = append(cells, fmt.Sprintf("%.2f", s.Cores(kind)))
	}
	cells = append(cells, fmt.Sprintf("%.2f", s.IdleCores()))
	return strings.Join(cells, " | ")
}
