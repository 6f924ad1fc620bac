package json

// natFrame is an array or object that decodeNatural is filling.
type natFrame struct {
	arr []any
	obj map[string]any
	key string
}

// decodeNatural decodes a valid JSON value into natural Go values: nil,
// bool, string, int64, uint64, float64, []any and map[string]any. It keeps
// its own stack instead of recursing; the scanner has already bounded the
// depth.
func decodeNatural(b []byte) (any, error) {
	var frames [8]natFrame
	stack := frames[:0]
	i := 0
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return nil, errChar(b, i, "looking for a value")
		}
		var v any
		switch c := b[i]; c {
		case '{':
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == '}' {
				i++
				v = map[string]any{}
				break
			}
			key, _, next, err := scanKey(b, i)
			if err != nil {
				return nil, err
			}
			stack = append(stack, natFrame{obj: map[string]any{}, key: unquote(b[key.off:key.end])})
			i = next
			continue
		case '[':
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == ']' {
				i++
				v = []any{}
				break
			}
			stack = append(stack, natFrame{arr: make([]any, 0, 4)})
			continue
		case '"':
			end, _, err := scanString(b, i)
			if err != nil {
				return nil, err
			}
			v = unquote(b[i:end])
			i = end
		case 't', 'f', 'n':
			end, err := scanScalar(b, i)
			if err != nil {
				return nil, err
			}
			switch c {
			case 't':
				v = true
			case 'f':
				v = false
			}
			i = end
		default:
			end, err := scanNumber(b, i)
			if err != nil {
				return nil, err
			}
			if v, err = naturalNumber(b[i:end]); err != nil {
				return nil, err
			}
			i = end
		}
		// Store v in its container; close the containers it completes.
		for {
			if len(stack) == 0 {
				if err := trailing(b, i); err != nil {
					return nil, err
				}
				return v, nil
			}
			top := &stack[len(stack)-1]
			if top.obj != nil {
				top.obj[top.key] = v
			} else {
				top.arr = append(top.arr, v)
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return nil, errChar(b, i, "after value")
			}
			if b[i] == ',' {
				i++
				if top.obj != nil {
					key, _, next, err := scanKey(b, i)
					if err != nil {
						return nil, err
					}
					top.key = unquote(b[key.off:key.end])
					i = next
				}
				break
			}
			switch {
			case top.obj != nil && b[i] == '}':
				v = top.obj
			case top.obj == nil && b[i] == ']':
				v = top.arr
			default:
				return nil, errChar(b, i, "after value")
			}
			i++
			*top = natFrame{} // drop the references for the collector
			stack = stack[:len(stack)-1]
		}
	}
}
