"""The packages, and a clean start for each build; the rest is in pyproject.toml.

Each folder of cases is a data package of its own (tlsdiff.cases.bugs, ...), found here
so that a new folder ships without being listed: named nowhere, setuptools packs its
files anyway, with a warning for each folder.

setuptools copies the packages into build/lib and packs what is there, so a file
deleted from the checkout since an earlier build (a case, a module) would still
ship. build_py empties its folder first."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CODE = ["tlsdiff", "tlsdiff.observe", "tlsdiff.peers", "tlsdiff.report", "tlsdiff.scenario", "tlsdiff.toolchains",
        "tlsdiff.fuzz", "tlspeer", "tlspeerd", "gomodel", "tlsdiff.go_peer"]
CASES = Path(__file__).resolve().parent / "cases"
CASE_FOLDERS = sorted("tlsdiff.cases" + "".join("." + p for p in d.relative_to(CASES).parts)
                      for d in [CASES, *CASES.rglob("*")] if d.is_dir() and any(d.glob("*.yaml")))


class CleanBuildPy(build_py):
    def run(self) -> None:
        shutil.rmtree(self.build_lib, ignore_errors=True)
        super().run()


setup(packages=CODE + CASE_FOLDERS, cmdclass={"build_py": CleanBuildPy})
