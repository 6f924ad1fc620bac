package main

import (
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// jsonNumber is the grammar of a JSON number.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// looksLikeJSON reports whether a command-line param is meant as JSON: it
// opens an array, an object or a string, or it is a JSON number, true,
// false or null. Any other word is a string, sent as typed.
func looksLikeJSON(s string) bool {
	t := strings.Trim(s, " \t\r\n")
	if t == "" {
		return false
	}
	switch t[0] {
	case '[', '{', '"':
		return true
	}
	switch t {
	case "true", "false", "null":
		return true
	}
	return jsonNumber.MatchString(t)
}

// parseParam reads a command-line param. A param that looks like JSON (see
// looksLikeJSON) must be exactly one JSON value, whose numbers become int64
// or uint64 when whole and float64 otherwise, each exact or in range; any
// other word is a string.
func parseParam(s string) (any, error) {
	if !looksLikeJSON(s) {
		return s, nil
	}
	d := stdjson.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("not valid JSON (%s); to send the text as a string, write it as a JSON string in quotes",
			strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("not valid JSON (more than one value); to send the text as a string, write it as a JSON string in quotes")
	}
	return naturalNumbers(v)
}

// naturalNumbers turns json.Numbers into int64 (or uint64) when whole and
// float64 otherwise, refusing a number that neither holds: an integer
// beyond 64 bits, or a number beyond float64's range.
func naturalNumbers(v any) (any, error) {
	switch x := v.(type) {
	case stdjson.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, nil
			}
			if u, err := strconv.ParseUint(s, 10, 64); err == nil {
				return u, nil
			}
			return nil, fmt.Errorf("integer %s out of range (a param holds -9223372036854775808 to 18446744073709551615)", abbrev(s))
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("number %s out of the range of a 64-bit float", abbrev(s))
		}
		return f, nil
	case []any:
		for i := range x {
			var err error
			if x[i], err = naturalNumbers(x[i]); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k := range x {
			var err error
			if x[k], err = naturalNumbers(x[k]); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// parseParams reads the positional params of rpcd call.
func parseParams(args []string) ([]any, error) {
	params := make([]any, 0, len(args))
	for i, a := range args {
		p, err := parseParam(a)
		if err != nil {
			return nil, usageError("param %d %s: %v", i+1, abbrev(a), err)
		}
		params = append(params, p)
	}
	return params, nil
}

// abbrev shortens a long argument for an error message.
func abbrev(s string) string {
	const n = 40
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
