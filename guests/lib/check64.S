/*
 * Register checks for 64-bit test guests. The test that builds the IGVM file puts the expected
 * values at EXPECT (a page of the file) in the IgvmNativeVpContextX64 layout; the guest saves what
 * it observes at entry into SEEN in the same layout, then `check_context` compares the two field
 * by field, prints one line per mismatch and returns their count in %rax.
 */
	.code64
	.set EXPECT, 0x8000
	.set SEEN, 0x8800

	.text
	.globl check_context, report, report_and_exit

/*
 * A table of (offset, width, name, bits compared) for every field the guest can observe. All bits
 * count, but CR4.MCE (bit 6): KVM on AMD sets it in the guest's CR4 whenever the host has it set,
 * as SVM has no CR4 read shadow, so a guest there reads it set whatever its context says.
 */
	.section .rodata
	.macro field off, width, name, care=-1
	.word	\off, \width
	.quad	1f
	.quad	\care
	.pushsection .rodata.names
1:	.asciz	"\name"
	.popsection
	.endm
fields:
	field 0x00, 8, "rax"
	field 0x08, 8, "rcx"
	field 0x10, 8, "rdx"
	field 0x18, 8, "rbx"
	field 0x20, 8, "rsp"
	field 0x28, 8, "rbp"
	field 0x30, 8, "rsi"
	field 0x38, 8, "rdi"
	field 0x40, 8, "r8"
	field 0x48, 8, "r9"
	field 0x50, 8, "r10"
	field 0x58, 8, "r11"
	field 0x60, 8, "r12"
	field 0x68, 8, "r13"
	field 0x70, 8, "r14"
	field 0x78, 8, "r15"
	field 0x80, 8, "rip"
	field 0x88, 8, "rflags"
	field 0x90, 8, "idtr.base"
	field 0x98, 2, "idtr.limit"
	field 0x9e, 2, "gdtr.limit"
	field 0xa0, 8, "gdtr.base"
	field 0xa8, 2, "cs"
	field 0xb4, 2, "ds/es/fs/gs/ss"
	field 0xc0, 8, "gs.base"
	field 0xc8, 8, "cr0"
	field 0xd0, 8, "cr3"
	field 0xd8, 8, "cr4", ~0x40
	field 0xe0, 8, "efer"
fields_end:

	.text
/*
 * check_context: compare SEEN with EXPECT; returns the number of mismatches in %rax. Keeps %rbx,
 * %r12 and %r13; clobbers what the serial helpers clobber.
 */
check_context:
	push	%rbx
	push	%r12
	push	%r13
	lea	fields(%rip), %rbx
	xor	%r12d, %r12d
1:	lea	fields_end(%rip), %rax
	cmp	%rax, %rbx
	jae	9f
	movzwl	(%rbx), %ecx		/* offset */
	movzwl	2(%rbx), %edx		/* width */
	mov	EXPECT(%rcx), %r8
	mov	SEEN(%rcx), %r9
	cmp	$8, %edx
	je	2f
	movzwl	%r8w, %r8d
	movzwl	%r9w, %r9d
2:	mov	%r8, %rax
	xor	%r9, %rax
	and	12(%rbx), %rax		/* the bits compared */
	jz	3f
	inc	%r12
	push	%r8
	push	%r9
	lea	s_mismatch(%rip), %rdi
	call	puts
	mov	4(%rbx), %rdi
	call	puts
	lea	s_got(%rip), %rdi
	call	puts
	pop	%rdi
	call	puthex
	lea	s_want(%rip), %rdi
	call	puts
	pop	%rdi
	call	puthex
	mov	$'\n', %edi
	call	putc
3:	add	$20, %rbx
	jmp	1b
9:	mov	%r12, %rax
	pop	%r13
	pop	%r12
	pop	%rbx
	ret

/* report: print the verdict for %rdi mismatches. Clobbers what the serial helpers clobber. */
report:
	push	%rbx
	mov	%rdi, %rbx
	test	%rbx, %rbx
	jnz	1f
	lea	s_ok(%rip), %rdi
	call	puts
	jmp	2f
1:	lea	s_fail(%rip), %rdi
	call	puts
	mov	%rbx, %rdi
	call	putdec
	mov	$'\n', %edi
	call	putc
2:	pop	%rbx
	ret

/* report_and_exit: print the verdict for %rdi mismatches and exit with that value. */
report_and_exit:
	push	%rdi
	call	report
	pop	%rdi
	jmp	exit_guest

	.section .rodata
s_mismatch:	.asciz	"MISMATCH "
s_got:		.asciz	" got "
s_want:		.asciz	" want "
s_ok:		.asciz	"CHECK OK: every observed register equals the context\n"
s_fail:		.asciz	"CHECK FAILED: mismatches: "
