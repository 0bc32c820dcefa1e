package main

// Step bookkeeping and error formatting in the conformance output convention:
//
//	PASS <suite>: <step>
//	FAIL <suite>: <step>: <why>
//	<suite>: N passed, M failed
//
// <suite> is $IRONSTONE_SUITE_NAME (suites/30-gophercloud sets it to its own file name,
// which is what conformance/run looks for), else "30-gophercloud".

import (
	"fmt"
	"os"
	"strings"

	"github.com/gophercloud/gophercloud"
)

var suite = suiteName()

func suiteName() string {
	if s := os.Getenv("IRONSTONE_SUITE_NAME"); s != "" {
		return s
	}
	return "30-gophercloud"
}

type report struct {
	passed, failed int
	verbose        bool
}

// step runs fn and prints one PASS or FAIL line; it returns whether fn succeeded.
// A panic inside fn is a failure of that step, never of the whole program.
func (r *report) step(name string, fn func() error) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			r.fail(name, fmt.Errorf("panic: %v", p))
			ok = false
		}
	}()
	if err := fn(); err != nil {
		r.fail(name, err)
		return false
	}
	r.passed++
	fmt.Printf("PASS %s: %s\n", suite, name)
	return true
}

// skip records a step that could not run because something it needs failed earlier.
func (r *report) skip(name, because string) {
	r.fail(name, fmt.Errorf("not run: %s", because))
}

func (r *report) fail(name string, err error) {
	r.failed++
	fmt.Printf("FAIL %s: %s: %s\n", suite, name, oneLine(describe(err)))
}

func (r *report) logf(format string, args ...interface{}) {
	if r.verbose {
		fmt.Fprintf(os.Stderr, "  "+format+"\n", args...)
	}
}

func (r *report) summary() int {
	fmt.Printf("%s: %d passed, %d failed\n", suite, r.passed, r.failed)
	if r.failed > 0 {
		return 1
	}
	return 0
}

// unexpected digs the HTTP exchange out of gophercloud's error types: every
// ErrDefaultNNN embeds ErrUnexpectedResponseCode, but their Error() strings drop the
// status and body ("Resource not found"), which is what a reader of the log needs.
func unexpected(err error) *gophercloud.ErrUnexpectedResponseCode {
	switch e := err.(type) {
	case gophercloud.ErrUnexpectedResponseCode:
		return &e
	case *gophercloud.ErrUnexpectedResponseCode:
		return e
	case gophercloud.ErrDefault400:
		return &e.ErrUnexpectedResponseCode
	case gophercloud.ErrDefault401:
		return &e.ErrUnexpectedResponseCode
	case gophercloud.ErrDefault403:
		return &e.ErrUnexpectedResponseCode
	case gophercloud.ErrDefault404:
		return &e.ErrUnexpectedResponseCode
	case gophercloud.ErrDefault405:
		return &e.ErrUnexpectedResponseCode
	case gophercloud.ErrDefault408:
		return &e.ErrUnexpectedResponseCode
	case gophercloud.ErrDefault409:
		return &e.ErrUnexpectedResponseCode
	case gophercloud.ErrDefault429:
		return &e.ErrUnexpectedResponseCode
	case gophercloud.ErrDefault500:
		return &e.ErrUnexpectedResponseCode
	case gophercloud.ErrDefault503:
		return &e.ErrUnexpectedResponseCode
	case *gophercloud.ErrErrorAfterReauthentication:
		return unexpected(e.ErrOriginal)
	case gophercloud.ErrErrorAfterReauthentication:
		return unexpected(e.ErrOriginal)
	}
	return nil
}

// httpStatus is the status of the failed exchange behind err, or 0 if err is no HTTP error.
func httpStatus(err error) int {
	if u := unexpected(err); u != nil {
		return u.Actual
	}
	return 0
}

func describe(err error) string {
	if u := unexpected(err); u != nil {
		return fmt.Sprintf("%s %s -> HTTP %d (expected %v): %s",
			u.Method, u.URL, u.Actual, u.Expected, clip(string(u.Body), 1500))
	}
	switch fmt.Sprintf("%T", err) {
	case "*errors.errorString", "*fmt.wrapError":
		return clip(err.Error(), 1500)
	}
	return clip(fmt.Sprintf("%T: %v", err, err), 1500)
}

// wrap prefixes err with what was being done, keeping the HTTP details visible.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %s", what, describe(err))
}

func clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return fmt.Sprintf("%s...[%d more chars]", s[:limit], len(s)-limit)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
