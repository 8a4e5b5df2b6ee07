"""Fuzz targets: one libFuzzer entry function, replayed and fuzzed.

A unit is code under test: one of its owner's cc_library targets, compiled
here from the owner's own files (see UNITS in BUILD). A fuzz target `<name>`
is `<name>_fuzzer.cc` (defining LLVMFuzzerTestOneInput) plus the units it
calls; fuzz_target() turns it into

  <name>_replay_test  cc_test, normal toolchain (gcc) with ASan and UBSan: runs
                      every file of corpus/<name>/ and regressions/<name>/ once.
  <name>_fuzz_test    sh_test: builds the target with clang's libFuzzer and
                      fuzzes it for `seconds` (fuzz_run.sh, mode test).
  <name>_fuzz         sh_binary: a long local session (fuzz_run.sh, mode run):
                      bazel run //tests/fuzz:<name>_fuzz -- -max_total_time=3600

The owners' libraries are private to their packages, so a unit names a target
this package may see (`via`, e.g. //services/records:record_store, visible to
//tests/...) whose dependencies reach the library; an aspect collects the
library's files along those edges. Should an owner grant //tests/fuzz
visibility, `via` can simply be the library itself.
"""

OwnerFilesInfo = provider(
    doc = "Files of the workspace cc_library targets below a target.",
    fields = {
        "libraries": "dict: label string -> struct(srcs, hdrs, headers), where " +
                     "headers is a depset of every source header the library " +
                     "includes, its own and its dependencies'",
    },
)

def _owner_files_aspect_impl(target, ctx):
    libraries = {}
    dep_headers = []
    for dep in getattr(ctx.rule.attr, "deps", []):
        if OwnerFilesInfo in dep:
            libraries.update(dep[OwnerFilesInfo].libraries)
        if CcInfo in dep:
            dep_headers.append(dep[CcInfo].compilation_context.headers)
    if ctx.rule.kind == "cc_library" and target.label.workspace_name == "":
        own = ctx.rule.files.srcs + ctx.rule.files.hdrs
        headers = depset(
            [f for f in own if f.extension in ("h", "hpp")],
            transitive = dep_headers,
        )
        libraries[str(target.label)] = struct(
            srcs = [f for f in ctx.rule.files.srcs if f.extension in ("cc", "cpp")],
            hdrs = ctx.rule.files.hdrs,
            headers = headers,
        )
    return [OwnerFilesInfo(libraries = libraries)]

_owner_files_aspect = aspect(
    implementation = _owner_files_aspect_impl,
    attr_aspects = ["deps"],
)

def _owner_files_impl(ctx):
    libraries = ctx.attr.via[OwnerFilesInfo].libraries
    key = ctx.attr.library
    if key not in libraries:
        fail("%s is not among the dependencies of %s (units in tests/fuzz/BUILD need updating)" %
             (key, ctx.attr.via.label))
    lib = libraries[key]
    if ctx.attr.kind == "srcs":
        files = depset(lib.srcs)
    elif ctx.attr.kind == "hdrs":
        files = depset(lib.hdrs)
    else:  # every source header the library's sources need
        files = depset([f for f in lib.headers.to_list() if f.is_source])
    return [DefaultInfo(files = files, runfiles = ctx.runfiles(transitive_files = files))]

owner_files = rule(
    doc = "The .cc files, public headers or all needed source headers of `library`.",
    implementation = _owner_files_impl,
    attrs = {
        "via": attr.label(aspects = [_owner_files_aspect], mandatory = True),
        "library": attr.string(mandatory = True),
        "kind": attr.string(values = ["srcs", "hdrs", "headers"], mandatory = True),
    },
)

# Sanitizers of the replay tests (gcc). Only the code under test, the fuzz
# target and the replay driver are instrumented; system libraries are not.
_SANITIZE = [
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
    "-fno-omit-frame-pointer",
]

def fuzz_units(units):
    """Declares, per entry `key` of `units`, the cc_library `unit_<key>`.

    Each entry is a dict with
      library:     the owner's cc_library (label string, "//pkg:name");
      via:         a target visible from here that depends on `library`;
      deps:        what `library` depends on, outside the units (for gcc);
      units:       other units it needs;
      protos:      .proto files (workspace paths) of //proto/lifelong/v1 whose
                   C++ code the clang build generates and compiles;
      pkg_config:  pkg-config modules the clang build compiles and links with.
    """
    for key, unit in units.items():
        for kind in ["srcs", "hdrs", "headers"]:
            owner_files(
                name = "unit_%s_%s" % (key, kind),
                testonly = True,
                via = unit["via"],
                library = unit["library"],
                kind = kind,
            )
        native.cc_library(
            name = "unit_" + key,
            testonly = True,
            srcs = [":unit_%s_srcs" % key],
            hdrs = [":unit_%s_hdrs" % key],
            copts = _SANITIZE,
            deps = unit.get("deps", []) + [":unit_" + u for u in unit.get("units", [])],
        )

def _closure(units, names):
    """`names` and every unit they need, each once."""
    out = []
    todo = list(names)
    for _ in range(1000):  # Starlark has neither while nor recursion.
        if not todo:
            break
        key = todo.pop(0)
        if key in out:
            continue
        out.append(key)
        todo += units[key].get("units", [])
    return out

def fuzz_target(name, units, unit_table, deps = [], pkg_config = [], seconds = 20, replay_tags = []):
    """The replay test, fuzz test and fuzz binary of `<name>_fuzzer.cc`.

    Args:
      name: the target's name; its files are <name>_fuzzer.cc, corpus/<name>/
        (seeds), regressions/<name>/ (saved crash inputs) and, optionally,
        dicts/<name>.dict (a libFuzzer dictionary).
      units: keys of `unit_table` the target calls.
      unit_table: the dict given to fuzz_units().
      deps: extra gcc deps of the fuzzer source itself (e.g. //third_party/sys:ssl).
      pkg_config: extra pkg-config modules of the fuzzer source itself.
      seconds: length of the fuzzing run of the test.
      replay_tags: extra tags of the replay test ("manual" while a saved
        regression still crashes; see README.md).
    """
    pkg = native.package_name()
    all_units = _closure(unit_table, units)
    fuzzer = name + "_fuzzer.cc"
    corpus = native.glob(["corpus/%s/**" % name])
    regressions = native.glob(["regressions/%s/**" % name])
    dicts = native.glob(["dicts/%s.dict" % name])
    if not corpus:
        fail("fuzz target %s has no seed corpus in %s/corpus/%s/" % (name, pkg, name))

    native.cc_test(
        name = name + "_replay_test",
        size = "small",
        srcs = [fuzzer, "replay_main.cc"],
        copts = _SANITIZE,
        linkopts = ["-fsanitize=address,undefined"],
        args = [pkg + "/corpus/" + name, pkg + "/regressions/" + name],
        data = corpus + regressions,
        tags = ["fuzz", "fuzz_replay"] + replay_tags,
        deps = [":fuzz_support"] + [":unit_" + u for u in units] + deps,
    )

    srcs, headers, protos, pkgs = [], [], [], []
    for key in all_units:
        unit = unit_table[key]
        srcs.append(":unit_%s_srcs" % key)
        headers.append(":unit_%s_headers" % key)
        protos += [p for p in unit.get("protos", []) if p not in protos]
        pkgs += [p for p in unit.get("pkg_config", []) if p not in pkgs]
    pkgs += [p for p in pkg_config if p not in pkgs]

    args = [
        "--name",
        name,
        "--seconds",
        str(seconds),
        "--fuzzer",
        "%s/%s" % (pkg, fuzzer),
        "--corpus",
        "%s/corpus/%s" % (pkg, name),
        "--regressions",
        "%s/regressions/%s" % (pkg, name),
        "--src",
    ] + ["$(rootpaths %s)" % s for s in srcs]
    for p in protos:
        args += ["--proto", p]
    for p in pkgs:
        args += ["--pkg", p]
    if dicts:
        args += ["--dict", "%s/%s" % (pkg, dicts[0])]
    data = [fuzzer, "fuzz_support.h"] + srcs + headers + corpus + regressions + dicts
    if protos:
        data.append("//proto/lifelong/v1:protos")

    native.sh_test(
        name = name + "_fuzz_test",
        size = "medium",
        timeout = "long",
        srcs = ["fuzz_run.sh"],
        args = ["--mode", "test"] + args,
        data = data,
        tags = ["fuzz", "fuzz_smoke"],
    )
    native.sh_binary(
        name = name + "_fuzz",
        testonly = True,
        srcs = ["fuzz_run.sh"],
        args = ["--mode", "run"] + args + ["--"],
        data = data,
    )
