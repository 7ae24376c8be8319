from conan import ConanFile
from conan.tools.build import can_run
from conan.tools.cmake import CMake, cmake_layout


class TestPackageConan(ConanFile):
    settings = "os", "arch", "compiler", "build_type"
    generators = "CMakeDeps", "CMakeToolchain"

    def requirements(self):
        self.requires(self.tested_reference_str)

    def layout(self):
        cmake_layout(self)

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def test(self):
        if not can_run(self):
            host = "a Mac (Apple Silicon)" if self.settings.os == "Macos" else f"a {self.settings.os}/{self.settings.arch} machine"
            self.output.warning(
                f"test_package built for {self.settings.os}/{self.settings.arch} but not run: this build "
                f"machine cannot execute those binaries; running them needs {host} (`conan create .` there)"
            )
            return
        # ctest runs the program, through CMAKE_CROSSCOMPILING_EMULATOR (qemu) when cross building.
        self.run(f"ctest --test-dir {self.build_folder} --verbose --no-tests=error", env="conanrun")
