// Command loadgen drives gosymd's Symbolize over gRPC with grpc-go, the reference gRPC
// implementation, for the service benchmark (bench/rpc.ts). Its collector runs concurrently with
// the program and pauses it for well under a millisecond, so what it measures is the server and
// the transport rather than the load generator's own garbage collection — which was the largest
// part of the tail when the same open loop was driven from Node with @grpc/grpc-js.
//
// Requests are encoded directly (SymbolizeRequest{batches: [{binary: {build_id}, addresses}]})
// and responses walked on the wire (every result's status checked, locations counted), through a
// pass-through codec, so no generated code is needed.
//
// Usage: loadgen -target 127.0.0.1:PORT -build-id ID -pcs FILE (uint64 little-endian)
//
//	[-batch 100] [-seconds 5] (-rate REQ_PER_S | -concurrency N)
//
// With -rate the loop is open: request i is due at start + i/rate and its latency is counted
// from that due time, so a late send counts against the result (no coordinated omission). With
// -concurrency, N requests are kept in flight (closed loop) to find the maximum rate. It prints
// one JSON object on stdout.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
)

// rawCodec passes bytes through: requests are encoded and responses walked by this program.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(b []byte, v interface{}) error {
	*(v.(*[]byte)) = append((*(v.(*[]byte)))[:0], b...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func putVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func encodeRequest(buildID string, addrs []uint64) []byte {
	var packed []byte
	for _, a := range addrs {
		packed = putVarint(packed, a)
	}
	ref := putVarint(putVarint(nil, 0x0a), uint64(len(buildID)))
	ref = append(ref, buildID...)
	batch := putVarint(putVarint(nil, 0x0a), uint64(len(ref)))
	batch = append(batch, ref...)
	batch = putVarint(putVarint(batch, 0x12), uint64(len(packed)))
	batch = append(batch, packed...)
	out := putVarint(putVarint(make([]byte, 0, len(batch)+varintLen(uint64(len(batch)))+1), 0x0a), uint64(len(batch)))
	return append(out, batch...)
}

var errMalformed = errors.New("malformed response")

type reader struct {
	b []byte
	p int
}

func (r *reader) varint() (uint64, error) {
	var v uint64
	for s := uint(0); s < 64; s += 7 {
		if r.p >= len(r.b) {
			return 0, errMalformed
		}
		c := r.b[r.p]
		r.p++
		v |= uint64(c&0x7f) << s
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errMalformed
}

func (r *reader) skip(wt uint64) error {
	switch wt {
	case 0:
		_, err := r.varint()
		return err
	case 1:
		r.p += 8
	case 5:
		r.p += 4
	case 2:
		l, err := r.varint()
		if err != nil {
			return err
		}
		r.p += int(l)
	default:
		return errMalformed
	}
	if r.p > len(r.b) {
		return errMalformed
	}
	return nil
}

// walk checks a SymbolizeResponse: every result's status code is 0, and returns the number of
// locations.
func walk(b []byte) (int, error) {
	r := &reader{b: b}
	locations := 0
	for r.p < len(b) {
		k, err := r.varint()
		if err != nil {
			return 0, err
		}
		if k != 0x0a {
			if err := r.skip(k & 7); err != nil {
				return 0, err
			}
			continue
		}
		l, err := r.varint()
		if err != nil {
			return 0, err
		}
		end := r.p + int(l)
		if end > len(b) {
			return 0, errMalformed
		}
		for r.p < end {
			fk, err := r.varint()
			if err != nil {
				return 0, err
			}
			switch fk {
			case 0x0a: // BatchStatus
				sl, err := r.varint()
				if err != nil {
					return 0, err
				}
				se := r.p + int(sl)
				if se > end {
					return 0, errMalformed
				}
				if sl > 0 && r.b[r.p] == 0x08 {
					r.p++
					code, err := r.varint()
					if err != nil {
						return 0, err
					}
					if code != 0 {
						return 0, fmt.Errorf("batch status code %d", code)
					}
				}
				r.p = se
			case 0x12:
				locations++
				if err := r.skip(2); err != nil {
					return 0, err
				}
			default:
				if err := r.skip(fk & 7); err != nil {
					return 0, err
				}
			}
		}
		if r.p != end {
			return 0, errMalformed
		}
	}
	return locations, nil
}

type result struct {
	Requests   int    `json:"requests"`
	Addresses  int    `json:"addresses"`
	Errors     int    `json:"errors"`
	FirstError string `json:"firstError,omitempty"`
	// Open loop: requests sent while ramping up (not measured), and how many of them failed.
	RampRequests int       `json:"rampRequests"`
	RampErrors   int       `json:"rampErrors"`
	Seconds      float64   `json:"seconds"`
	CPUSeconds   float64   `json:"cpuSeconds"`
	LatencyMs    []float64 `json:"latenciesMs"`
	// How late the open loop issued its requests (from due time to send): p99 and maximum.
	LateSendP99Ms float64 `json:"lateSendP99Ms"`
	LateSendMaxMs float64 `json:"lateSendMaxMs"`
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func main() {
	target := flag.String("target", "", "host:port of gosymd")
	buildID := flag.String("build-id", "", "build ID of an uploaded binary")
	pcsFile := flag.String("pcs", "", "file of little-endian uint64 addresses")
	batch := flag.Int("batch", 100, "addresses per request")
	seconds := flag.Float64("seconds", 5, "measured duration")
	rate := flag.Float64("rate", 0, "open loop: requests per second")
	concurrency := flag.Int("concurrency", 0, "closed loop: requests in flight")
	warmup := flag.Int("warmup", 200, "requests before measuring")
	rampSeconds := flag.Float64("warmup-seconds", 1, "open loop: seconds sent at the rate, not measured, before the measured part")
	flag.Parse()
	if *target == "" || *buildID == "" || *pcsFile == "" || (*rate <= 0) == (*concurrency <= 0) || *batch <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: need -target, -build-id, -pcs, -batch > 0 and one of -rate or -concurrency")
		os.Exit(2)
	}
	raw, err := os.ReadFile(*pcsFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	pcs := make([]uint64, len(raw)/8)
	for i := range pcs {
		pcs[i] = binary.LittleEndian.Uint64(raw[i*8:])
	}
	if len(pcs) < *batch {
		fmt.Fprintln(os.Stderr, "loadgen: fewer addresses than one batch")
		os.Exit(2)
	}
	// Requests are encoded before the clock starts, as a profiler's would be by the time it sends.
	nreq := len(pcs) / *batch
	reqs := make([][]byte, nreq)
	for i := range reqs {
		reqs[i] = encodeRequest(*buildID, pcs[i**batch:(i+1)**batch])
	}
	conn, err := grpc.Dial(*target, grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(256<<20)),
		grpc.WithInitialWindowSize(16<<20), grpc.WithInitialConnWindowSize(16<<20))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: dial:", err)
		os.Exit(1)
	}
	defer conn.Close()
	const method = "/gosymd.v1.SymbolizerService/Symbolize"
	var mu sync.Mutex
	res := result{}
	call := func(i int) (float64, error) {
		req := reqs[i%nreq]
		var resp []byte
		t0 := time.Now()
		err := conn.Invoke(context.Background(), method, &req, &resp)
		d := time.Since(t0)
		if err == nil {
			var n int
			n, err = walk(resp)
			if err == nil && n != *batch {
				err = fmt.Errorf("%d locations for %d addresses", n, *batch)
			}
		}
		return float64(d.Nanoseconds()) / 1e6, err
	}
	for i := 0; i < *warmup; i++ {
		if _, err := call(i); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: warm-up:", err)
			os.Exit(1)
		}
	}
	// firstError keeps the first failure's text; called with mu held.
	firstError := func(err error) {
		if res.FirstError == "" {
			res.FirstError = err.Error()
		}
	}
	record := func(lat float64, err error) {
		mu.Lock()
		res.Requests++
		if err != nil {
			res.Errors++
			firstError(err)
		} else {
			res.Addresses += *batch
		}
		res.LatencyMs = append(res.LatencyMs, lat)
		mu.Unlock()
	}
	c0 := cpuSeconds()
	start := time.Now()
	until := start.Add(time.Duration(*seconds * float64(time.Second)))
	var wg sync.WaitGroup
	if *concurrency > 0 {
		next := 0
		for w := 0; w < *concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(until) {
					mu.Lock()
					i := next
					next++
					mu.Unlock()
					record(call(i))
				}
			}()
		}
	} else {
		// The rate is held for rampSeconds first, unmeasured: going from idle to thousands of
		// requests a second changes the server's heap sizing and compiled code (and starts the
		// client's goroutines), and that transition is not the steady state being measured.
		interval := time.Duration(float64(time.Second) / *rate)
		ramp := time.Duration(*rampSeconds * float64(time.Second))
		measured := start.Add(ramp)
		until = measured.Add(time.Duration(*seconds * float64(time.Second)))
		var late []float64
		for i := 0; ; i++ {
			due := start.Add(time.Duration(i) * interval)
			if !due.Before(until) {
				break
			}
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			inWindow := !due.Before(measured)
			if inWindow && len(late) == 0 {
				c0 = cpuSeconds()
			}
			if inWindow {
				late = append(late, float64(time.Since(due).Nanoseconds())/1e6)
			}
			wg.Add(1)
			go func(i int, due time.Time, inWindow bool) {
				defer wg.Done()
				_, err := call(i)
				if inWindow {
					record(float64(time.Since(due).Nanoseconds())/1e6, err)
				} else {
					// Not measured, but a failure is still reported.
					mu.Lock()
					res.RampRequests++
					if err != nil {
						res.RampErrors++
						firstError(err)
					}
					mu.Unlock()
				}
			}(i, due, inWindow)
		}
		res.LateSendP99Ms, res.LateSendMaxMs = tail(late)
		start = measured
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.CPUSeconds = cpuSeconds() - c0
	if err := json.NewEncoder(os.Stdout).Encode(&res); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// tail returns the 99th percentile and the maximum of xs.
func tail(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)*99/100], s[len(s)-1]
}
