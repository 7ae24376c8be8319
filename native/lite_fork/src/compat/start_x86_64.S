/* Program entry of megforge_lite_worker on x86-64 glibc >= 2.34 build hosts, assembled into a
 * Scrt1.o / crt1.o that replaces glibc's (gcc -B). It calls __libc_start_main@GLIBC_2.2.5, which
 * every glibc provides, instead of @GLIBC_2.34, so the worker runs on the manylinux_2_28 baseline.
 * Process entry (SysV x86-64 ABI): argc at (%rsp), argv above it, %rdx = the dynamic linker's
 * termination function. */
        .text
        .globl  _start
        .type   _start, @function
_start:
        xorl    %ebp, %ebp
        movq    %rdx, %r9                    /* rtld_fini */
        popq    %rsi                         /* argc */
        movq    %rsp, %rdx                   /* argv */
        andq    $-16, %rsp
        pushq   %rax                         /* keep the stack 16-byte aligned */
        pushq   %rsp                         /* stack_end */
        xorl    %r8d, %r8d                   /* fini: the dynamic linker runs destructors */
        leaq    mgf_crt_init(%rip), %rcx     /* init */
        leaq    main(%rip), %rdi
        call    mgf_libc_start_main@PLT
        hlt
        .size   _start, . - _start
        .symver mgf_libc_start_main, __libc_start_main@GLIBC_2.2.5
        .section .note.GNU-stack, "", @progbits
