/* Program entry of megforge_lite_worker on aarch64 glibc >= 2.34 build hosts (see
 * start_x86_64.S): calls __libc_start_main@GLIBC_2.17 instead of @GLIBC_2.34.
 * Process entry (AAPCS64): x0 = the dynamic linker's termination function, argc at [sp]. */
        .text
        .globl  _start
        .type   _start, %function
_start:
        mov     x29, #0
        mov     x30, #0
        mov     x5, x0                       /* rtld_fini */
        ldr     x1, [sp]                     /* argc */
        add     x2, sp, #8                   /* argv */
        mov     x6, sp                       /* stack_end */
        mov     x4, #0                       /* fini: the dynamic linker runs destructors */
        adrp    x3, mgf_crt_init
        add     x3, x3, :lo12:mgf_crt_init   /* init */
        adrp    x0, main
        add     x0, x0, :lo12:main
        bl      mgf_libc_start_main
        brk     #0
        .size   _start, . - _start
        .symver mgf_libc_start_main, __libc_start_main@GLIBC_2.17
        .section .note.GNU-stack, "", %progbits
