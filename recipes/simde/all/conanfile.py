import os
import re

from conan import ConanFile
from conan.errors import ConanException, ConanInvalidConfiguration
from conan.tools.files import copy, load, save
from conan.tools.layout import basic_layout

required_conan_version = ">=2.0"


class SimdeConan(ConanFile):
    name = "simde"
    description = "Header-only portable SIMD intrinsics (NEON on x86 and elsewhere), from a local package"
    license = "MIT"
    url = "https://github.com/simd-everywhere/simde"
    homepage = "https://github.com/simd-everywhere/simde"
    topics = ("simd", "neon", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    no_copy_source = True

    @property
    def _source(self):
        return self.conan_data["sources"][self.version]

    def layout(self):
        basic_layout(self, src_folder="src")

    def package_id(self):
        self.info.clear()

    def validate(self):
        if self.version not in self.conan_data["sources"]:
            raise ConanInvalidConfiguration(f"{self.ref}: no local provider listed in conandata.yml")

    def source(self):
        include_dir, license_file = self._locate()
        found = self._header_version(include_dir)
        if found != self.version:
            raise ConanException(
                f"{self.ref}: {include_dir} holds SIMDe {found}, not {self.version}; "
                f"install {self._source['distribution']} {self.version}"
            )
        copy(self, "*.h", os.path.join(include_dir, "simde"), os.path.join(self.source_folder, "include", "simde"))
        save(self, os.path.join(self.source_folder, "LICENSE"), self._license_text(license_file))

    def build(self):
        pass

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        copy(self, "*.h", os.path.join(self.source_folder, "include"), os.path.join(self.package_folder, "include"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "simde")
        self.cpp_info.set_property("cmake_target_name", "simde::simde")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []

    def _locate(self):
        src = self._source
        if src["provider"] == "debian":
            include_dir = src["include_dir"]
            license_file = src["license_file"]
        elif src["provider"] == "pypi":
            try:
                import simde_py
            except ImportError as exc:
                raise ConanException(
                    f"{self.ref}: pip install {src['distribution']}=={self.version} into Conan's Python"
                ) from exc
            include_dir = simde_py.get_include()
            license_file = os.path.join(include_dir, src["license_file"])
        else:
            raise ConanInvalidConfiguration(f"{self.ref}: unknown provider {src['provider']!r}")
        if not os.path.isfile(os.path.join(include_dir, "simde", "arm", "neon.h")):
            raise ConanException(
                f"{self.ref}: SIMDe headers not found in {include_dir}; install {src['distribution']}"
            )
        return include_dir, license_file

    def _license_text(self, license_file):
        text = load(self, license_file)
        if license_file.endswith(".h"):  # the leading comment block holds the MIT notice
            if not text.startswith("/*") or "*/" not in text:
                raise ConanException(f"{self.ref}: no licence comment at the top of {license_file}")
            text = text[2:text.index("*/")].replace("\n *", "\n").strip() + "\n"
        return text

    def _header_version(self, include_dir):
        text = load(self, os.path.join(include_dir, "simde", "simde-common.h"))
        parts = [re.search(rf"#define SIMDE_VERSION_{p} (\d+)", text) for p in ("MAJOR", "MINOR", "MICRO")]
        if not all(parts):
            raise ConanException(f"{self.ref}: no SIMDE_VERSION macros in {include_dir}/simde/simde-common.h")
        return ".".join(m.group(1) for m in parts)
