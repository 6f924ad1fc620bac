package msgpack

import (
	"bytes"
	"encoding"
	"fmt"
	"reflect"
	"sync"

	"github.com/polyrpc/polyrpc/rpc/wire"
	mp "github.com/vmihailenco/msgpack/v5"
)

// Types with encoding methods of their own are encoded and decoded by those
// methods. MessagePack methods (mp.CustomEncoder, mp.Marshaler and their
// decoding twins) and encoding.BinaryMarshaler are called through
// vmihailenco/msgpack, by pooled encoders and decoders configured to name
// struct fields by their json tags; encoding.TextMarshaler is called by the
// codec itself, which writes the text as a str (the library would write a
// bin) so that such a value reads the same as in the other codecs. A type
// with both text and binary methods travels as text, as in encoding/json.
//
// Everything else the codec does itself: the library truncates integers
// silently (300 into an int8, 2^64-1 into an int64 as -1), logs from library
// code when struct field names clash, and embeds structs by rules of its
// own, none of which a server can accept for values a peer controls. The
// library decodes only bytes that skim has validated, and what it encodes
// is validated before it is sent.

// methods says which of its own methods encode or decode a type.
type methods uint8

const (
	noMethods      methods = iota
	libraryMethods         // the library calls them
	textMethods            // MarshalText or UnmarshalText
)

// use is how a type is encoded or decoded: by which methods, and whether
// only its pointer has them (usable when the value is addressable).
type use struct {
	m    methods
	addr bool
}

var (
	customEncoderType     = reflect.TypeFor[mp.CustomEncoder]()
	marshalerType         = reflect.TypeFor[mp.Marshaler]()
	binaryMarshalerType   = reflect.TypeFor[encoding.BinaryMarshaler]()
	textMarshalerType     = reflect.TypeFor[encoding.TextMarshaler]()
	customDecoderType     = reflect.TypeFor[mp.CustomDecoder]()
	unmarshalerType       = reflect.TypeFor[mp.Unmarshaler]()
	binaryUnmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
	textUnmarshalerType   = reflect.TypeFor[encoding.TextUnmarshaler]()
)

var (
	encodeUses sync.Map // reflect.Type → use
	decodeUses sync.Map // reflect.Type → methods
)

// methodsOf finds which methods of t, among the interfaces in precedence
// order (msgpack's, text, binary), encode or decode it.
func methodsOf(t reflect.Type, msgpack, text, binary []reflect.Type) methods {
	has := func(ifaces []reflect.Type) bool {
		for _, i := range ifaces {
			if t.Implements(i) {
				return true
			}
		}
		return false
	}
	switch {
	case has(msgpack):
		return libraryMethods
	case has(text):
		return textMethods
	case has(binary):
		return libraryMethods
	}
	return noMethods
}

// encodeUse reports how values of type t are encoded. Pointers and
// interfaces are followed to the value they hold first, so that a nil one
// is nil on the wire.
func encodeUse(t reflect.Type) use {
	if u, ok := encodeUses.Load(t); ok {
		return u.(use)
	}
	var u use
	if t != timeType && t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface {
		msgpack := []reflect.Type{customEncoderType, marshalerType}
		text, binary := []reflect.Type{textMarshalerType}, []reflect.Type{binaryMarshalerType}
		if u.m = methodsOf(t, msgpack, text, binary); u.m == noMethods {
			u = use{methodsOf(reflect.PointerTo(t), msgpack, text, binary), true}
		}
	}
	encodeUses.Store(t, u)
	return u
}

// decodeUse reports which methods of *t decode into a value of type t.
func decodeUse(t reflect.Type) methods {
	if m, ok := decodeUses.Load(t); ok {
		return m.(methods)
	}
	m := noMethods
	if t != timeType && t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface {
		m = methodsOf(reflect.PointerTo(t), []reflect.Type{customDecoderType, unmarshalerType},
			[]reflect.Type{textUnmarshalerType}, []reflect.Type{binaryUnmarshalerType})
	}
	decodeUses.Store(t, m)
	return m
}

// appendMethods appends v, whose type has encoding methods (u), or returns
// ok false when they cannot be called: a value that is not addressable with
// methods on its pointer, or one reached through an unexported field.
func appendMethods(dst []byte, v reflect.Value, u use, budget int) (out []byte, ok bool, err error) {
	if !v.CanInterface() || u.addr && !v.CanAddr() {
		return dst, false, nil
	}
	if u.addr {
		v = v.Addr()
	}
	if u.m == libraryMethods {
		dst, err = appendLibrary(dst, v.Interface(), budget)
		return dst, true, err
	}
	text, err := v.Interface().(encoding.TextMarshaler).MarshalText()
	if err != nil {
		return dst, true, err
	}
	dst, err = appendStr(dst, text)
	return dst, true, err
}

// decodeText decodes a str or bin with the UnmarshalText method of ptr, a
// pointer to a value of the plan p.
func decodeText(b []byte, h *head, p *wire.Plan, ptr any) error {
	if h.kind != kindStr && h.kind != kindBin {
		return p.Mismatch(h.kind.String())
	}
	// UnmarshalText may keep the bytes; they must not be the message's.
	return ptr.(encoding.TextUnmarshaler).UnmarshalText(bytes.Clone(b[h.off:h.end()]))
}

// appendWriter is the io.Writer and io.ByteWriter a library encoder writes
// into: it appends to a caller's buffer.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

type libEncoder struct {
	w   appendWriter
	enc *mp.Encoder
}

var libEncoders = sync.Pool{New: func() any {
	e := &libEncoder{}
	e.enc = mp.NewEncoder(&e.w)
	e.enc.SetCustomStructTag("json")
	e.enc.UseCompactInts(true)
	e.enc.SetSortMapKeys(true)
	return e
}}

// appendLibrary appends v as the library encodes it, and checks that the
// result, which a type's own methods produced, is one well-formed value
// within budget.
func appendLibrary(dst []byte, v any, budget int) ([]byte, error) {
	e := libEncoders.Get().(*libEncoder)
	start := len(dst)
	e.w.b = dst
	err := e.enc.Encode(v)
	dst, e.w.b = e.w.b, nil
	libEncoders.Put(e)
	if err != nil {
		return dst, err
	}
	end, err := skim(dst, start, budget)
	if err == nil && end != len(dst) {
		err = &syntaxError{"more than one value", end - start}
	}
	if err != nil {
		return dst, fmt.Errorf("msgpack: a value's own encoding method wrote malformed msgpack: %w", err)
	}
	return dst, nil
}

type libDecoder struct {
	r   bytes.Reader
	dec *mp.Decoder
}

var libDecoders = sync.Pool{New: func() any {
	d := &libDecoder{}
	// A bytes.Reader is an io.ByteScanner, so the decoder reads it
	// directly, without a bufio.Reader of its own.
	d.dec = mp.NewDecoder(&d.r)
	d.dec.SetCustomStructTag("json")
	return d
}}

// decodeLibrary decodes raw, one validated value, into ptr with the
// library.
func decodeLibrary(raw []byte, ptr any) error {
	d := libDecoders.Get().(*libDecoder)
	d.r.Reset(raw)
	err := d.dec.Decode(ptr)
	d.r.Reset(nil)
	libDecoders.Put(d)
	return err
}
