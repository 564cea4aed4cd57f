/*
 * 64-bit console helpers for test guests: polled 16550 UART on COM1 (0x3f8).
 * Calling convention: arguments in %rdi (and %rsi), clobbers %rax, %rcx, %rdx, %rdi, %rsi, %r8.
 */
	.code64
	.set COM1, 0x3f8
	.set LSR, COM1 + 5
	.set LSR_THRE, 0x20

	.text
	.globl putc, puts, puthex, putdec, exit_guest

/* putc: write the byte in %dil. */
putc:
	mov	$LSR, %dx
1:	in	%dx, %al
	test	$LSR_THRE, %al
	jz	1b
	mov	$COM1, %dx
	mov	%dil, %al
	out	%al, %dx
	ret

/* puts: write the NUL-terminated string at %rdi. */
puts:
	mov	%rdi, %rsi
1:	movzbl	(%rsi), %edi
	test	%dil, %dil
	jz	2f
	push	%rsi
	call	putc
	pop	%rsi
	inc	%rsi
	jmp	1b
2:	ret

/* puthex: write %rdi as 0x followed by hex digits, without leading zeros. */
puthex:
	mov	%rdi, %r8
	mov	$'0', %edi
	call	putc
	mov	$'x', %edi
	call	putc
	mov	$60, %ecx		/* shift of the current nibble */
	xor	%esi, %esi		/* set once a non-zero digit was written */
1:	mov	%r8, %rax
	shr	%cl, %rax
	and	$0xf, %eax
	test	%ecx, %ecx
	jz	2f			/* always write the last digit */
	test	%esi, %esi
	jnz	2f
	test	%eax, %eax
	jz	3f
2:	mov	$1, %esi
	lea	hexdigits(%rip), %rdx
	movzbl	(%rdx,%rax), %edi
	push	%rcx
	push	%rsi
	call	putc
	pop	%rsi
	pop	%rcx
3:	sub	$4, %ecx
	jns	1b
	ret

/* putdec: write %rdi in decimal. */
putdec:
	mov	%rdi, %rax
	lea	-1+decbuf_end(%rip), %rsi
	movb	$0, (%rsi)
	mov	$10, %r8
1:	xor	%edx, %edx
	div	%r8
	add	$'0', %dl
	dec	%rsi
	mov	%dl, (%rsi)
	test	%rax, %rax
	jnz	1b
	mov	%rsi, %rdi
	jmp	puts

/* exit_guest: isa-debug-exit with value %dil (status (value << 1) | 1), then halt for good. */
exit_guest:
	mov	%dil, %al
	out	%al, $0xf4
1:	cli
	hlt
	jmp	1b

	.section .rodata
hexdigits:
	.ascii	"0123456789abcdef"

	.bss
decbuf:
	.skip	24
decbuf_end:
