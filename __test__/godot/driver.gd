# Runs one program of UPNP calls through Godot's own UPNP module (Godot 3.x, headless:
# `godot3-server --no-window -s driver.gd`) and prints one JSON line per step, prefixed
# with "GDIFF ", for run.ts to compare with upnp-native (driver.ts runs the same program).
# The program is a JSON file named by the GDIFF_PROGRAM environment variable.
extends SceneTree

const PREFIX = "GDIFF "
var upnp = UPNP.new()
var named = {}


func _init():
	var f = File.new()
	var path = OS.get_environment("GDIFF_PROGRAM")
	if f.open(path, File.READ) != OK:
		emit({"fatal": "cannot open program " + path})
		quit()
		return
	var parsed = JSON.parse(f.get_as_text())
	f.close()
	if parsed.error != OK:
		emit({"fatal": "program is not JSON: " + parsed.error_string})
		quit()
		return
	emit({"engine": Engine.get_version_info()["string"]})
	for step in parsed.result["steps"]:
		var started = OS.get_ticks_msec()
		var value = run(step)
		emit({"value": value, "ms": OS.get_ticks_msec() - started})
	emit({"done": true})
	quit()


func emit(line):
	print(PREFIX + to_json(line))


# JSON numbers arrive as floats; Godot's int parameters get ints, as a game would pass them.
func ints(args):
	var out = []
	for a in args:
		if typeof(a) == TYPE_REAL and a == floor(a):
			out.append(int(a))
		else:
			out.append(a)
	return out


func describe(d):
	if d == null:
		return null
	return {
		"description_url": d.description_url,
		"service_type": d.service_type,
		"igd_control_url": d.igd_control_url,
		"igd_service_type": d.igd_service_type,
		"igd_our_addr": d.igd_our_addr,
		"igd_status": d.igd_status,
	}


func target(step):
	if step.has("device"):
		return named[step["device"]]
	return upnp.get_device(int(step["index"]))


func run(step):
	var args = ints(step.get("args", []))
	match step["op"]:
		"set":
			upnp.set(step["prop"], ints([step["value"]])[0])
			return upnp.get(step["prop"])
		"discover":
			return upnp.callv("discover", args)
		"count":
			return upnp.get_device_count()
		"devices":
			var out = []
			for i in range(upnp.get_device_count()):
				out.append(describe(upnp.get_device(i)))
			return out
		"gateway":
			var gw = upnp.get_gateway()
			for i in range(upnp.get_device_count()):
				if upnp.get_device(i) == gw:
					return i
			return -1
		"external":
			return upnp.query_external_address()
		"add":
			return upnp.callv("add_port_mapping", args)
		"delete":
			return upnp.callv("delete_port_mapping", args)
		"new_device":
			var d = UPNPDevice.new()
			var fields = step.get("fields", {})
			for k in fields:
				d.set(k, ints([fields[k]])[0])
			named[step["name"]] = d
			return describe(d)
		"add_device":
			upnp.add_device(named[step["device"]])
			return upnp.get_device_count()
		"get_device":
			return describe(upnp.get_device(int(step["index"])))
		"remove_device":
			upnp.remove_device(int(step["index"]))
			return upnp.get_device_count()
		"clear_devices":
			upnp.clear_devices()
			return upnp.get_device_count()
		"dev_add":
			return target(step).callv("add_port_mapping", args)
		"dev_delete":
			return target(step).callv("delete_port_mapping", args)
		"dev_external":
			return target(step).query_external_address()
		"dev_valid":
			return target(step).is_valid_gateway()
	return {"unknown_op": step["op"]}
