import os
import re

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd, stdcpp_library
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir

required_conan_version = ">=2.4"


class MegforgeConan(ConanFile):
    name = "megforge"
    description = "megforge native libraries: NC4HW4/NCHW fp32 transposed convolution (NEON) behind a C API"
    license = "Apache-2.0"
    url = "https://github.com/megforge/megforge"
    homepage = "https://github.com/megforge/megforge"
    topics = ("megengine", "deconvolution", "neon", "nc4hw4")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"shared": [True, False], "fPIC": [True, False]}
    default_options = {"shared": True, "fPIC": True}
    implements = ["auto_shared_fpic"]
    exports_sources = "native/*", "LICENSE"

    @property
    def _min_cppstd(self):
        return 17

    @property
    def _supported(self):
        return {"Linux": ("x86_64", "armv8"), "Macos": ("armv8", "x86_64")}

    @property
    def _uses_simde(self):
        # NEON intrinsics are native on arm64; other ISAs emulate them with SIMDe.
        return str(self.settings.arch) != "armv8"

    def set_version(self):
        text = load(self, os.path.join(self.recipe_folder, "src", "megforge", "__init__.py"))
        self.version = self.version or re.search(r'__version__ = "([^"]+)"', text).group(1)

    def layout(self):
        cmake_layout(self, src_folder="native")

    def requirements(self):
        if self._uses_simde:
            self.requires("simde/0.8.2", visible=False)

    def validate(self):
        check_min_cppstd(self, self._min_cppstd)
        archs = self._supported.get(str(self.settings.os))
        if archs is None or str(self.settings.arch) not in archs:
            raise ConanInvalidConfiguration(f"{self.ref} supports {self._supported}, not {self.settings.os}/{self.settings.arch}")

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["MEGFORGE_BUILD_TESTS"] = False
        tc.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE", self.source_folder + "/..", os.path.join(self.package_folder, "licenses"))
        CMake(self).install()
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "megforge")
        deconv = self.cpp_info.components["deconv"]
        deconv.set_property("cmake_target_name", "megforge::deconv")
        deconv.libs = ["megforge_deconv"]
        if not self.options.shared:
            deconv.defines = ["MGF_DECONV_STATIC"]
            if self.settings.os == "Linux":
                deconv.system_libs = ["pthread", "m"]
            if stdcpp_library(self):  # C++ inside, so C consumers (test_package) link the runtime
                deconv.system_libs.append(stdcpp_library(self))
        # The drop-in LITE C library (always shared; megforge_lite_worker is installed beside it).
        lite = self.cpp_info.components["lite"]
        lite.set_property("cmake_target_name", "megforge::lite")
        lite.libs = ["megforge_lite"]
