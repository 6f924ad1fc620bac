package main

import (
	"fmt"
	"reflect"
	"time"

	"github.com/polyrpc/polyrpc/bench/benchpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The three calls every system serves, under the same names where a system
// lets the name be chosen.
const (
	methodAdd        = "bench.add"
	methodEchoInts   = "bench.echoInts"
	methodEchoStruct = "bench.echoStruct"
)

// The small call's operands; their sum fits in 32 bits so that every
// XML-RPC peer reads it as a plain <int>.
const (
	addA int64 = 123456789
	addB int64 = 987654321
)

// numInts is the length of the large integer echo.
const numInts = 1000

// AddArgs carries the small call's operands for the systems whose methods
// take a single argument (net/rpc, gorilla, rpcx).
type AddArgs struct {
	A int64 `json:"a" xmlrpc:"a" msgpack:"a"`
	B int64 `json:"b" xmlrpc:"b" msgpack:"b"`
}

// Item is an element of Record.Items.
type Item struct {
	Name  string  `json:"name" xmlrpc:"name"`
	Qty   int64   `json:"qty" xmlrpc:"qty"`
	Price float64 `json:"price" xmlrpc:"price"`
}

// Inner is Record's nested struct.
type Inner struct {
	Label   string  `json:"label" xmlrpc:"label"`
	Level   int64   `json:"level" xmlrpc:"level"`
	Enabled bool    `json:"enabled" xmlrpc:"enabled"`
	Values  []int64 `json:"values" xmlrpc:"values"`
}

// Record is the struct of the large struct echo: 50 fields of mixed kinds,
// the same Go type for every system (gRPC has the twin message
// benchpb.Record). Integers are signed because XML-RPC peers read no
// unsigned kinds; times have whole seconds because XML-RPC carries no more.
type Record struct {
	ID       int64 `json:"id" xmlrpc:"id"`
	Version  int32 `json:"version" xmlrpc:"version"`
	Priority int8  `json:"priority" xmlrpc:"priority"`
	Rank     int16 `json:"rank" xmlrpc:"rank"`
	Count    int   `json:"count" xmlrpc:"count"`
	Parent   int64 `json:"parent" xmlrpc:"parent"`
	Owner    int64 `json:"owner" xmlrpc:"owner"`
	Size     int64 `json:"size" xmlrpc:"size"`
	Offset   int64 `json:"offset" xmlrpc:"offset"`
	Limit    int32 `json:"limit" xmlrpc:"limit"`
	Retries  int32 `json:"retries" xmlrpc:"retries"`
	Shard    int32 `json:"shard" xmlrpc:"shard"`
	Epoch    int64 `json:"epoch" xmlrpc:"epoch"`

	Score  float64 `json:"score" xmlrpc:"score"`
	Ratio  float64 `json:"ratio" xmlrpc:"ratio"`
	Lat    float64 `json:"lat" xmlrpc:"lat"`
	Lon    float64 `json:"lon" xmlrpc:"lon"`
	Weight float32 `json:"weight" xmlrpc:"weight"`
	Height float32 `json:"height" xmlrpc:"height"`
	Temp   float64 `json:"temp" xmlrpc:"temp"`
	Budget float64 `json:"budget" xmlrpc:"budget"`

	Name        string `json:"name" xmlrpc:"name"`
	Title       string `json:"title" xmlrpc:"title"`
	Email       string `json:"email" xmlrpc:"email"`
	Phone       string `json:"phone" xmlrpc:"phone"`
	Street      string `json:"street" xmlrpc:"street"`
	City        string `json:"city" xmlrpc:"city"`
	Country     string `json:"country" xmlrpc:"country"`
	Zip         string `json:"zip" xmlrpc:"zip"`
	Note        string `json:"note" xmlrpc:"note"`
	Status      string `json:"status" xmlrpc:"status"`
	Kind        string `json:"kind" xmlrpc:"kind"`
	Token       string `json:"token" xmlrpc:"token"`
	Description string `json:"description" xmlrpc:"description"`

	Active   bool `json:"active" xmlrpc:"active"`
	Verified bool `json:"verified" xmlrpc:"verified"`
	Admin    bool `json:"admin" xmlrpc:"admin"`
	Deleted  bool `json:"deleted" xmlrpc:"deleted"`
	Public   bool `json:"public" xmlrpc:"public"`
	Pinned   bool `json:"pinned" xmlrpc:"pinned"`
	Archived bool `json:"archived" xmlrpc:"archived"`
	Locked   bool `json:"locked" xmlrpc:"locked"`

	Created time.Time `json:"created" xmlrpc:"created"`
	Updated time.Time `json:"updated" xmlrpc:"updated"`

	Tags     []string          `json:"tags" xmlrpc:"tags"`
	Scores   []float64         `json:"scores" xmlrpc:"scores"`
	Items    []Item            `json:"items" xmlrpc:"items"`
	Attrs    map[string]string `json:"attrs" xmlrpc:"attrs"`
	Counters map[string]int64  `json:"counters" xmlrpc:"counters"`
	Inner    Inner             `json:"inner" xmlrpc:"inner"`
}

// newInts returns the payload of the large integer echo: numInts values
// spread over the whole int64 range, so that every integer width appears.
func newInts() []int64 {
	v := make([]int64, numInts)
	for i := range v {
		switch i % 4 {
		case 0:
			v[i] = int64(i)
		case 1:
			v[i] = -int64(i) * 1000
		case 2:
			v[i] = int64(i) * 1_000_003
		default:
			v[i] = int64(i) << 40
		}
	}
	return v
}

// newRecord returns the payload of the large struct echo. Every slice and map
// is non-empty, since formats without a null tell empty from nil apart
// differently.
func newRecord() Record {
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	return Record{
		ID: 9_007_199_254_740_993, Version: 7, Priority: -3, Rank: 1200, Count: 42,
		Parent: 1_234_567_890_123, Owner: 77, Size: 1 << 33, Offset: -5000,
		Limit: 100, Retries: 3, Shard: 12, Epoch: 1_715_000_000,

		Score: 98.5, Ratio: 0.125, Lat: 52.520008, Lon: 13.404954,
		Weight: 71.25, Height: 1.5, Temp: -12.75, Budget: 1e9 + 0.5,

		Name: "Ada Lovelace", Title: "Analyst of the Engine", Email: "ada@example.org",
		Phone: "+44 20 7946 0000", Street: "12 St James's Square", City: "London",
		Country: "United Kingdom", Zip: "SW1Y 4JH", Note: "fish & chips <on Friday>",
		Status: "active", Kind: "person", Token: "c2VjcmV0LXRva2VuLTAxMjM0NTY3ODk",
		Description: "Wrote the first algorithm intended to be carried out by a machine.",

		Active: true, Verified: true, Admin: false, Deleted: false,
		Public: true, Pinned: false, Archived: false, Locked: true,

		Created: created,
		Updated: created.Add(36*time.Hour + 15*time.Minute),

		Tags:   []string{"math", "poetry", "engines", "notes", "bernoulli"},
		Scores: []float64{1.5, -2.25, 3.125, 1e-3, 6.02214076e23},
		Items: []Item{
			{Name: "punched card", Qty: 1024, Price: 0.05},
			{Name: "gear", Qty: 37, Price: 12.5},
			{Name: "lever", Qty: 8, Price: 3.75},
		},
		Attrs:    map[string]string{"lang": "en", "era": "victorian", "field": "computing"},
		Counters: map[string]int64{"letters": 312, "notes": 7, "pages": 65},
		Inner:    Inner{Label: "note G", Level: 7, Enabled: true, Values: []int64{1, 1, 2, 3, 5, 8, 13}},
	}
}

// normalize puts the times of r in UTC, since decoders differ in the
// location they give a time that came over the wire, not in its instant.
func normalize(r Record) Record {
	r.Created = r.Created.UTC()
	r.Updated = r.Updated.UTC()
	return r
}

// toPB converts r into its gRPC twin.
func toPB(r *Record) *benchpb.Record {
	items := make([]*benchpb.Item, len(r.Items))
	for i, it := range r.Items {
		items[i] = &benchpb.Item{Name: it.Name, Qty: it.Qty, Price: it.Price}
	}
	return &benchpb.Record{
		Id: r.ID, Version: r.Version, Priority: int32(r.Priority), Rank: int32(r.Rank),
		Count: int64(r.Count), Parent: r.Parent, Owner: r.Owner, Size: r.Size,
		Offset: r.Offset, Limit: r.Limit, Retries: r.Retries, Shard: r.Shard, Epoch: r.Epoch,

		Score: r.Score, Ratio: r.Ratio, Lat: r.Lat, Lon: r.Lon,
		Weight: r.Weight, Height: r.Height, Temp: r.Temp, Budget: r.Budget,

		Name: r.Name, Title: r.Title, Email: r.Email, Phone: r.Phone, Street: r.Street,
		City: r.City, Country: r.Country, Zip: r.Zip, Note: r.Note, Status: r.Status,
		Kind: r.Kind, Token: r.Token, Description: r.Description,

		Active: r.Active, Verified: r.Verified, Admin: r.Admin, Deleted: r.Deleted,
		Public: r.Public, Pinned: r.Pinned, Archived: r.Archived, Locked: r.Locked,

		Created: timestamppb.New(r.Created),
		Updated: timestamppb.New(r.Updated),

		Tags: r.Tags, Scores: r.Scores, Items: items,
		Attrs: r.Attrs, Counters: r.Counters,
		Inner: &benchpb.Inner{Label: r.Inner.Label, Level: r.Inner.Level, Enabled: r.Inner.Enabled, Values: r.Inner.Values},
	}
}

// fromPB converts a gRPC record back, to check it against the original.
func fromPB(p *benchpb.Record) Record {
	items := make([]Item, len(p.Items))
	for i, it := range p.Items {
		items[i] = Item{Name: it.Name, Qty: it.Qty, Price: it.Price}
	}
	var inner Inner
	if p.Inner != nil {
		inner = Inner{Label: p.Inner.Label, Level: p.Inner.Level, Enabled: p.Inner.Enabled, Values: p.Inner.Values}
	}
	return Record{
		ID: p.Id, Version: p.Version, Priority: int8(p.Priority), Rank: int16(p.Rank),
		Count: int(p.Count), Parent: p.Parent, Owner: p.Owner, Size: p.Size,
		Offset: p.Offset, Limit: p.Limit, Retries: p.Retries, Shard: p.Shard, Epoch: p.Epoch,

		Score: p.Score, Ratio: p.Ratio, Lat: p.Lat, Lon: p.Lon,
		Weight: p.Weight, Height: p.Height, Temp: p.Temp, Budget: p.Budget,

		Name: p.Name, Title: p.Title, Email: p.Email, Phone: p.Phone, Street: p.Street,
		City: p.City, Country: p.Country, Zip: p.Zip, Note: p.Note, Status: p.Status,
		Kind: p.Kind, Token: p.Token, Description: p.Description,

		Active: p.Active, Verified: p.Verified, Admin: p.Admin, Deleted: p.Deleted,
		Public: p.Public, Pinned: p.Pinned, Archived: p.Archived, Locked: p.Locked,

		Created: p.Created.AsTime(),
		Updated: p.Updated.AsTime(),

		Tags: p.Tags, Scores: p.Scores, Items: items,
		Attrs: p.Attrs, Counters: p.Counters,
		Inner: inner,
	}
}

// check compares a call's result with what it must be.
func check(k callKind, got any) error {
	var want any
	switch k {
	case callAdd:
		want = addA + addB
	case callInts:
		want = newInts()
	case callStruct:
		r, ok := got.(Record)
		if !ok {
			return fmt.Errorf("result is a %T, want a Record", got)
		}
		got, want = normalize(r), normalize(newRecord())
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("wrong result:\n got %s\nwant %s", clipValue(got), clipValue(want))
	}
	return nil
}

// clipValue formats v for an error message, cut to a readable length.
func clipValue(v any) string {
	s := fmt.Sprintf("%T %+v", v, v)
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}
