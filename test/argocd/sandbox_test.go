package argocd

import (
	"context"
	"fmt"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// sandbox runs a script the way Argo CD runs the scripts of argocd-cm (util/lua/lua.go of
// argoproj/argo-cd, with the gopher-lua version Argo CD pins):
//
//   - a state without the standard libraries (unless openLibs), then the package, base and
//     table libraries opened; no string, math or io library;
//   - "os" preloaded with only time and date, so a script gets it with require("os"). Argo CD
//     also calls its OpenSafeOs, which registers those two functions under the name of the
//     table library that is already loaded, so it defines no global os: require is the only
//     way, in both modes (Argo CD's built-in actions do it too);
//   - the object as the global obj, action parameters as the global actionParams;
//   - one second for the whole script.
//
// openLibs is resource.customizations.useOpenLibs.<group_kind>: true, which opens every
// standard library for health scripts (the global os is then the full one; require("os")
// still returns the safe one). Actions always run without it.
//
// now is the clock behind os.time and os.date, so that tests get exact timestamps.
type sandbox struct {
	openLibs bool
	now      func() time.Time
}

// run executes script with obj and returns what it returned, converted to Go values the way
// Argo CD converts it (through JSON).
func (s sandbox) run(script string, obj map[string]any) (any, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: !s.openLibs})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, fmt.Errorf("open %s: %w", lib.name, err)
		}
	}
	clock := &safeOS{now: s.now}
	defer clock.close()
	l.PreloadModule(lua.OsLibName, clock.load)

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)

	l.SetGlobal("actionParams", l.NewTable())
	l.SetGlobal("obj", toLua(l, obj))
	fn, err := l.LoadString(script)
	if err != nil {
		return nil, err
	}
	l.Push(fn)
	if err := l.PCall(0, lua.MultRet, nil); err != nil {
		return nil, err
	}
	return fromLua(l.Get(-1))
}

// safeOS is the os module of the sandbox: time and date only, on an injected clock, with
// Argo CD's semantics (a leading "!" formats the current time in UTC; a second argument is
// taken as local time). Formatting is delegated to gopher-lua's own os.date, the code Argo
// CD's copy was taken from, so the conversion specifiers behave the same.
type safeOS struct {
	now       func() time.Time
	formatter *lua.LState
}

func (o *safeOS) load(l *lua.LState) int {
	mod := l.NewTable()
	l.SetFuncs(mod, map[string]lua.LGFunction{"time": o.time, "date": o.date})
	l.Push(mod)
	return 1
}

func (o *safeOS) close() {
	if o.formatter != nil {
		o.formatter.Close()
	}
}

func (o *safeOS) time(l *lua.LState) int {
	if l.GetTop() == 0 {
		l.Push(lua.LNumber(o.now().Unix()))
		return 1
	}
	tbl := l.CheckTable(1)
	field := func(name string, def int) int {
		if n, ok := tbl.RawGetString(name).(lua.LNumber); ok {
			return int(n)
		}
		return def
	}
	t := time.Date(field("year", -1), time.Month(field("month", -1)), field("day", -1),
		field("hour", 12), field("min", 0), field("sec", 0), 0, time.Local)
	l.Push(lua.LNumber(t.Unix()))
	return 1
}

func (o *safeOS) date(l *lua.LState) int {
	t := o.now().In(time.Local)
	format := "%c"
	if l.GetTop() >= 1 {
		format = l.CheckString(1)
		if strings.HasPrefix(format, "!") {
			format = strings.TrimLeft(format, "!")
			t = t.UTC()
		}
		if l.GetTop() >= 2 {
			t = time.Unix(l.CheckInt64(2), 0)
		}
	}
	if o.formatter == nil {
		o.formatter = lua.NewState()
	}
	f := o.formatter
	if t.Location() == time.UTC {
		format = "!" + format
	}
	if err := f.CallByParam(lua.P{Fn: f.GetField(f.GetGlobal("os"), "date"), NRet: 1, Protect: true},
		lua.LString(format), lua.LNumber(t.Unix())); err != nil {
		l.RaiseError("os.date: %v", err)
	}
	ret := f.Get(-1)
	f.Pop(1)
	if tbl, ok := ret.(*lua.LTable); ok {
		copied := l.NewTable()
		tbl.ForEach(func(k, v lua.LValue) { copied.RawSet(k, v) })
		ret = copied
	}
	l.Push(ret)
	return 1
}

// toLua converts a decoded Kubernetes object into Lua values as Argo CD does: maps and
// slices become tables, numbers of any Go type become numbers, anything else nil.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	default:
		return lua.LNil
	}
}

// fromLua converts a script's result back into Go values the way Argo CD's JSON encoding
// of Lua values does: a table whose keys are 1..n in order is a list, any other table an
// object with string keys, an empty table an empty list (Argo CD turns it back into an empty
// object where the live object had one).
func fromLua(v lua.LValue) (any, error) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LNumber:
		return float64(v), nil
	case lua.LString:
		return string(v), nil
	case *lua.LTable:
		var list []any
		var obj map[string]any
		var err error
		v.ForEach(func(k, item lua.LValue) {
			if err != nil {
				return
			}
			var conv any
			if conv, err = fromLua(item); err != nil {
				return
			}
			if n, ok := k.(lua.LNumber); ok && obj == nil && int(n) == len(list)+1 {
				list = append(list, conv)
				return
			}
			if obj == nil {
				obj = make(map[string]any, len(list)+1)
				for i, e := range list {
					obj[fmt.Sprint(i+1)] = e
				}
			}
			obj[k.String()] = conv
		})
		switch {
		case err != nil:
			return nil, err
		case obj != nil:
			return obj, nil
		case list == nil:
			return []any{}, nil
		default:
			return list, nil
		}
	default:
		return nil, fmt.Errorf("cannot encode a Lua %s to JSON", v.Type())
	}
}
