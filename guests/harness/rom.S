/*
 * QEMU test harness, part 1 (the -bios image): from the reset vector to 32-bit flat protected mode
 * with a GDT of its own, then on to the context loader (stub.S), which the harness places in low
 * memory. With it, QEMU without IGVM support (Debian's 7.2, TCG) can run memory that igvm-ts's loader
 * filled, entered with the boot CPU state the loader computed: a stand-in for `igvm run` where KVM is
 * not usable, so that the guests themselves are tested (test/qemu).
 */
	.set STUB, 0xb000

	.code16
	.text
	.globl _start
_start:
	cli
	cld
	lgdtl	%cs:(gdtr - 0xffff0000)		/* CS base is 0xffff0000 after reset */
	mov	%cr0, %eax
	or	$1, %eax			/* PE */
	mov	%eax, %cr0
	ljmpl	$0x08, $protected

	.code32
protected:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	ljmp	$0x08, $STUB

	.balign	8
gdt:	.quad	0, 0x00cf9b000000ffff, 0x00cf93000000ffff	/* null, flat 32-bit code, flat data */
gdtr:	.word	23
	.long	gdt

	.code16
	.section .reset_vector, "ax"
	jmp	_start
