"""package.xml (colcon/rosdep), setup.py (pip) and CMakeLists.txt describe the same package.

* the same version, and the same third-party Python dependencies (package.xml rosdep keys mapped
  to pip names vs setup.py's install_requires/extras), so the two build paths cannot drift;
* every rosdep key is either upstream (ros/rosdistro rosdep/python.yaml) or defined by the
  project's scripts/rosdep.yaml;
* the executables CMakeLists.txt installs into lib/adaspring_ros/ are setup.py's console_scripts,
  and the installed wrappers exist;
* `pip wheel .` (the server path, no ROS) builds a wheel whose metadata says the same.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_XML = REPO_ROOT / "package.xml"
SETUP_PY = REPO_ROOT / "setup.py"
CMAKELISTS = REPO_ROOT / "CMakeLists.txt"
ROSDEP_YAML = REPO_ROOT / "scripts" / "rosdep.yaml"

#: Third-party keys package.xml may use that the upstream rosdep database defines (checked by
#: hand against ros/rosdistro rosdep/python.yaml; the project's own keys are in ROSDEP_YAML).
UPSTREAM_PYTHON_KEYS = {
    "python3-numpy": "numpy",
    "python3-scipy": "scipy",
    "python3-psutil": "psutil",
    "python3-tqdm": "tqdm",
    "python3-matplotlib": "matplotlib",
    "python3-pytest": "pytest",
    "python3-hypothesis": "hypothesis",
    "python3-sounddevice-pip": "sounddevice",
}

#: ROS packages the design needs (not pip dependencies: they come from ROS).
ROS_DEPENDENCIES = {
    "rclpy",
    "std_msgs",
    "sensor_msgs",
    "diagnostic_msgs",
    "builtin_interfaces",
    "rosidl_default_generators",
    "rosidl_default_runtime",
    "ament_cmake",
    "ament_cmake_python",
    "ament_cmake_pytest",
    "launch_ros",
    "ros2launch",
    "ros2cli",
    "ros2param",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _req_name(requirement: str) -> str:
    return _norm(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0])


def _package_xml() -> ET.Element:
    return ET.parse(PACKAGE_XML).getroot()


def _deps(root: ET.Element, *tags: str) -> set[str]:
    return {e.text.strip() for tag in tags for e in root.findall(tag)}


def _setup_constants() -> dict:
    """INSTALL_REQUIRES, EXTRAS_REQUIRE, CONSOLE_SCRIPTS as setup.py defines them (not run)."""
    wanted = {"INSTALL_REQUIRES", "EXTRAS_REQUIRE", "CONSOLE_SCRIPTS"}
    found = {}
    for node in ast.parse(SETUP_PY.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in wanted:
                found[target.id] = ast.literal_eval(node.value)
    assert found.keys() == wanted, found.keys()
    return found


def _rosdep_rules() -> dict[str, set[str]]:
    import yaml

    rules = yaml.safe_load(ROSDEP_YAML.read_text())
    out = {}
    for key, platforms in rules.items():
        names = set()
        for rule in platforms.values():
            if isinstance(rule, dict) and "pip" in rule:
                names |= {_norm(p) for p in rule["pip"]["packages"]}
        if names:
            out[key] = names
    return out


def test_system_programs_have_apt_rules_and_are_named_in_setup_py():
    """espeak-ng and the like: a package.xml key with an apt rule here and in SYSTEM_REQUIRES."""
    import yaml

    rules = yaml.safe_load(ROSDEP_YAML.read_text())
    system = {k for k, platforms in rules.items()
              if all(isinstance(r, list) for r in platforms.values())}
    assert "espeak-ng" in system and rules["espeak-ng"]["ubuntu"] == ["espeak-ng"]
    assert system <= _deps(_package_xml(), "depend", "exec_depend", "test_depend")
    setup_py = SETUP_PY.read_text()
    for key in system:
        assert f'"{key}"' in setup_py.split("SYSTEM_REQUIRES = ")[1].split("\n")[0], key
    setup_env = (REPO_ROOT / "scripts" / "setup_env.sh").read_text()
    assert all(key in setup_env for key in system)


def _pip_names(keys: set[str]) -> set[str]:
    """pip names of package.xml's third-party keys; fails on a key nobody defines."""
    own = _rosdep_rules()
    names = set()
    for key in keys:
        if key in UPSTREAM_PYTHON_KEYS:
            names.add(_norm(UPSTREAM_PYTHON_KEYS[key]))
        elif key in own:
            names |= own[key]
        else:
            raise AssertionError(f"rosdep key {key!r} is neither upstream nor in {ROSDEP_YAML}")
    return names


def test_package_xml_is_a_format3_ament_cmake_interface_package():
    root = _package_xml()
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == "adaspring_ros"
    assert root.findtext("export/build_type") == "ament_cmake"
    assert root.findtext("member_of_group") == "rosidl_interface_packages"
    all_deps = _deps(root, "depend", "buildtool_depend", "exec_depend", "test_depend")
    assert ROS_DEPENDENCIES <= all_deps, ROS_DEPENDENCIES - all_deps


def _version() -> str:
    init = (REPO_ROOT / "adaspring_ros" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', init, re.M).group(1)


def test_package_xml_version_is_the_python_version():
    # setup.py reads the same __version__ (checked on the built wheel below).
    assert _package_xml().findtext("version") == _version()


def test_package_xml_and_setup_py_declare_the_same_third_party_dependencies():
    root = _package_xml()
    setup = _setup_constants()
    third_party = {k for k in _deps(root, "depend", "exec_depend", "test_depend")
                   if k.startswith("python3-")}
    runtime_keys = {k for k in _deps(root, "depend", "exec_depend") if k.startswith("python3-")}
    test_keys = {k for k in _deps(root, "test_depend") if k.startswith("python3-")}
    assert runtime_keys | test_keys == third_party

    setup_runtime = {_req_name(r) for r in setup["INSTALL_REQUIRES"]}
    setup_runtime |= {_req_name(r) for r in setup["EXTRAS_REQUIRE"]["robot"]}
    setup_test = {_req_name(r) for r in setup["EXTRAS_REQUIRE"]["test"]}
    assert _pip_names(runtime_keys) == setup_runtime
    assert _pip_names(test_keys) == setup_test
    assert set(setup["EXTRAS_REQUIRE"]) == {"robot", "test"}


def test_dependency_check_notices_drift():
    """The comparison above is not vacuous: an extra key or a missing rule is caught."""
    setup = _setup_constants()
    runtime = {_req_name(r) for r in setup["INSTALL_REQUIRES"]}
    assert "torch" in runtime and "librosa" in runtime and "numpy" in runtime
    with pytest.raises(AssertionError, match="neither upstream"):
        _pip_names({"python3-not-a-real-key-pip"})
    assert _pip_names({"python3-torch-pip", "python3-numpy"}) == {"torch", "numpy"}


def test_torch_is_pinned_to_the_cpu_build_everywhere():
    setup = _setup_constants()
    assert "torch==2.13.0" in setup["INSTALL_REQUIRES"]
    script = (REPO_ROOT / "scripts" / "setup_env.sh").read_text()
    assert re.search(r"^TORCH_PIN=\"torch==2\.13\.0\"$", script, re.M), "setup_env.sh pin"


def _cmake_executables() -> list[str]:
    text = CMAKELISTS.read_text()
    block = re.search(r"set\(ADASPRING_EXECUTABLES\s+(.*?)\)", text, re.S).group(1)
    return re.findall(r'"([^"]+)"', block)


def test_cmake_executables_are_the_console_scripts():
    cmake = _cmake_executables()
    assert cmake == _setup_constants()["CONSOLE_SCRIPTS"]
    names = {e.split("=", 1)[0] for e in cmake}
    assert names >= {
        "microphone_node",
        "context_monitor_node",
        "evolution_node",
        "inference_node",
        "bringup",
        "monitor",
        "ubiear_day",
    }
    for entry in cmake:  # nodes start through nodes/start.py (signals handled before imports)
        assert re.fullmatch(r"\w+=adaspring_ros\.(tools\.\w+:main|nodes\.start:\w+)", entry), \
            entry


def test_cmake_generates_every_message_in_msg():
    text = CMAKELISTS.read_text()
    listed = set(re.findall(r'"(msg/\w+\.msg)"', text))
    on_disk = {p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "msg").glob("*.msg")}
    assert listed == on_disk
    assert on_disk == {
        "msg/AudioChunk.msg",
        "msg/DeploymentContext.msg",
        "msg/CompressionConfig.msg",
        "msg/SoundEvent.msg",
        "msg/ModelLatency.msg",
    }


def test_installed_package_has_the_executables_and_share_files():
    from ament_index_python.packages import get_package_prefix, get_package_share_directory

    prefix = Path(get_package_prefix("adaspring_ros"))
    share = Path(get_package_share_directory("adaspring_ros"))
    assert (share / "package.xml").read_text() == PACKAGE_XML.read_text()
    for entry in _cmake_executables():
        name, target = entry.split("=", 1)
        module, func = target.split(":")
        exe = prefix / "lib" / "adaspring_ros" / name
        assert exe.is_file() and exe.stat().st_mode & 0o111, exe
        text = exe.read_text()
        assert text.startswith("#!/") and f"from {module} import {func}" in text, text
    # The installed package is the source tree's __init__.py plus the generated msg/.
    import adaspring_ros.msg

    import adaspring_ros

    assert Path(adaspring_ros.__file__).read_text() == (
        REPO_ROOT / "adaspring_ros" / "__init__.py"
    ).read_text()
    assert Path(adaspring_ros.msg.__file__).parent.parent == Path(adaspring_ros.__file__).parent


def test_pip_wheel_builds_the_ros_free_package(tmp_path):
    """`pip install .` path: a wheel of core + nodes + training, no generated msg/."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.py", "setup.cfg", "README.md", "package.xml"):
        shutil.copy2(REPO_ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO_ROOT / "adaspring_ros", src / "adaspring_ros", ignore=ignore)
    out = tmp_path / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("adaspring_ros-*.whl")
    assert wheel.name.startswith(f"adaspring_ros-{_version()}-"), wheel.name
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(meta_name).decode()
        entry_points = zf.read(meta_name.replace("METADATA", "entry_points.txt")).decode()
    assert "adaspring_ros/core/__init__.py" in names
    assert "adaspring_ros/core/model/search_space.py" in names
    assert "adaspring_ros/training/train_all.py" in names
    assert not any(n.startswith("training/") for n in names), "no top-level `training` package"
    assert not any(n.startswith("adaspring_ros/msg/") for n in names)
    requires = {
        _req_name(line.split(":", 1)[1].strip())
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    }
    keys = {k for k in _deps(_package_xml(), "depend", "exec_depend", "test_depend")
            if k.startswith("python3-")}
    assert requires == _pip_names(keys)
    assert "Requires-Dist: torch==2.13.0" in metadata
    for entry in _cmake_executables():
        name, target = entry.split("=", 1)
        assert re.search(rf"^{name}\s*=\s*{re.escape(target)}$", entry_points, re.M), entry
