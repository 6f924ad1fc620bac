package main

import (
	"errors"
	"flag"
	"strings"
)

// flagsBeforeURL is the rule rpcd call and rpcd list state in their usage.
const flagsBeforeURL = "Flags go before the URL. After it, an argument that looks like a flag\n" +
	"(-name or --name, name starting with a letter) is an error, never a param;\n" +
	"a negative number such as -3 is a param. No argument after -- is a flag."

// parseArgs parses a client command's args with fs and returns the
// arguments after its flags (see positional). It returns flag.ErrHelp after
// -h, which the command treats as done (see helpDone), and an exitError for
// a flag it cannot parse, which fs has reported.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, exitError{code: 2}
	}
	return positional(fs, args)
}

// helpDone is nil for the flag.ErrHelp of a command whose usage was shown,
// and err otherwise.
func helpDone(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// positional returns the arguments that follow a command's flags, parsed
// by fs from args, and enforces flagsBeforeURL: Go's flag package stops at
// the first argument that is not a flag, so a flag written after the URL
// would otherwise be sent as a param (or taken for the method).
//
// A "--" ends the flags: either Go's, before the URL, or the first "--"
// after the URL, which is dropped; no argument after it is checked.
func positional(fs *flag.FlagSet, args []string) ([]string, error) {
	rest := fs.Args()
	if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
		return rest, nil
	}
	for i, a := range rest {
		if a == "--" {
			return append(rest[:i:i], rest[i+1:]...), nil
		}
		name, ok := flagName(a)
		if !ok {
			continue
		}
		if fs.Lookup(name) != nil || name == "h" || name == "help" {
			return nil, usageError("flag %s after the URL: flags go before the URL (%s -help)", a, fs.Name())
		}
		return nil, usageError("%s after the URL looks like a flag, and %s has none of that name: flags go before the URL; "+
			"to send it as a string param, write it after -- or in JSON quotes: '\"%s\"'", a, fs.Name(), a)
	}
	return rest, nil
}

// flagName returns the name of an argument that looks like a flag: -name,
// --name, -name=value or --name=value with name starting with a letter.
func flagName(a string) (string, bool) {
	name, ok := strings.CutPrefix(a, "-")
	if !ok {
		return "", false
	}
	name = strings.TrimPrefix(name, "-")
	if name == "" || !isLetter(name[0]) {
		return "", false
	}
	name, _, _ = strings.Cut(name, "=")
	return name, true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
