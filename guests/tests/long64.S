/*
 * Test guest entered in 64-bit long mode from the IGVM native context. It saves every register it
 * can observe before touching any (absolute addressing: no register is needed to store), then
 * compares them with the values the test baked into the file (lib/check64.S).
 *
 * With RESET_TEST assembled in (--defsym RESET_TEST=1), it also proves that a reset loads the
 * context again: the first boot leaves a marker in RAM that the file does not cover and resets
 * through port 0xcf9; the second boot finds the marker, checks the registers again and exits.
 */
	.code64
	.set SEEN, 0x8800
	.set MSR_EFER, 0xc0000080
	.set MSR_GS_BASE, 0xc0000101
	.set MARKER, 0x300000
	.set MARKER_VALUE, 0x5245534554544553	/* "SETTESER" */

	.text
	.globl _start
_start:
	mov	%rax, SEEN + 0x00
	mov	%rcx, SEEN + 0x08
	mov	%rdx, SEEN + 0x10
	mov	%rbx, SEEN + 0x18
	mov	%rsp, SEEN + 0x20
	mov	%rbp, SEEN + 0x28
	mov	%rsi, SEEN + 0x30
	mov	%rdi, SEEN + 0x38
	mov	%r8, SEEN + 0x40
	mov	%r9, SEEN + 0x48
	mov	%r10, SEEN + 0x50
	mov	%r11, SEEN + 0x58
	mov	%r12, SEEN + 0x60
	mov	%r13, SEEN + 0x68
	mov	%r14, SEEN + 0x70
	mov	%r15, SEEN + 0x78
	pushfq
	popq	SEEN + 0x88
	lea	_start(%rip), %rax
	mov	%rax, SEEN + 0x80
	sidt	scratch
	movzwl	scratch, %eax
	mov	%ax, SEEN + 0x98
	mov	scratch + 2, %rax
	mov	%rax, SEEN + 0x90
	sgdt	scratch
	movzwl	scratch, %eax
	mov	%ax, SEEN + 0x9e
	mov	scratch + 2, %rax
	mov	%rax, SEEN + 0xa0
	mov	%cs, %ax
	mov	%ax, SEEN + 0xa8
	/* every data selector must equal data_selector: record DS, and flag any other that differs */
	mov	%ds, %ax
	mov	%ax, SEEN + 0xb4
	mov	%es, %cx
	cmp	%ax, %cx
	jne	bad_selector
	mov	%ss, %cx
	cmp	%ax, %cx
	jne	bad_selector
	mov	%fs, %cx
	cmp	%ax, %cx
	jne	bad_selector
	mov	%gs, %cx
	cmp	%ax, %cx
	jne	bad_selector
	mov	$MSR_GS_BASE, %ecx
	rdmsr
	shl	$32, %rdx
	or	%rdx, %rax
	mov	%rax, SEEN + 0xc0
	mov	%cr0, %rax
	mov	%rax, SEEN + 0xc8
	mov	%cr3, %rax
	mov	%rax, SEEN + 0xd0
	mov	%cr4, %rax
	mov	%rax, SEEN + 0xd8
	mov	$MSR_EFER, %ecx
	rdmsr
	shl	$32, %rdx
	or	%rdx, %rax
	mov	%rax, SEEN + 0xe0

	lea	banner(%rip), %rdi
	call	puts
	call	check_context
	mov	%rax, %r12

.ifdef RESET_TEST
	movabs	$MARKER_VALUE, %rax
	cmp	%rax, MARKER
	je	second_boot
	mov	%rax, MARKER
	test	%r12, %r12
	jnz	done
	/* the first boot's verdict too: the test counts one CHECK OK per boot */
	xor	%edi, %edi
	call	report
	lea	s_reset(%rip), %rdi
	call	puts
	mov	$0x06, %al		/* reset control register: full reset */
	mov	$0xcf9, %dx
	out	%al, %dx
1:	hlt
	jmp	1b
second_boot:
	lea	s_second(%rip), %rdi
	call	puts
.endif
done:
	mov	%r12, %rdi
	jmp	report_and_exit

bad_selector:
	lea	s_selector(%rip), %rdi
	call	puts
	mov	$0x7f, %edi
	jmp	exit_guest

	.section .rodata
banner:		.asciz	"long64 test guest: checking the registers against the context\n"
s_selector:	.asciz	"MISMATCH data selectors differ between DS, ES, SS, FS and GS\n"
.ifdef RESET_TEST
s_reset:	.asciz	"first boot: resetting through port 0xcf9\n"
s_second:	.asciz	"second boot: the context was loaded again\n"
.endif

	.bss
	.balign	16
scratch:	.skip	16
