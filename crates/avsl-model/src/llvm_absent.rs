//! Stand-ins for the LLVM C API in builds with the `cuda` feature. cubecl's CUDA runtime
//! links its LLVM code generator (cubecl-llvm, pliron-llvm) even when, as here (its `cpp`
//! feature), kernels are compiled by NVRTC; that generator needs an LLVM library whose
//! bundle cubecl's build script downloads, which an offline build cannot do (DOCS_RS=1
//! skips the download). Without these definitions the binary does not link (undefined
//! `LLVM*` symbols), and linked with them left unresolved it does not start ("symbol
//! lookup error: undefined symbol: LLVMContextCreate"). Nothing calls them while the
//! NVRTC compiler is in use; if anything does, the process stops with a message.
//!
//! The list is the LLVM symbols the two crates' compiled code refers to (cubecl 0.11.3),
//! and three C++ shims cubecl-llvm's build script compiles only with LLVM present;
//! after a cubecl upgrade, rebuild with `tools/gpu_check.sh build` and regenerate it from
//! `nm -u target-cuda/release/deps/lib{pliron_llvm,cubecl_llvm}-*.rlib | awk '$2 ~ /^(LLVM|cubecl_)/ {print $2}' | sort -u`.

fn llvm_absent(name: &str) -> ! {
    eprintln!("avsl: {name} was called, but this build has no LLVM (cubecl's NVRTC compiler is the one in use)");
    std::process::abort()
}

macro_rules! absent {
    ($($name:ident)*) => {
        $(
            #[unsafe(no_mangle)]
            #[allow(non_snake_case)]
            pub extern "C" fn $name() -> ! {
                llvm_absent(stringify!($name))
            }
        )*
    };
}

absent! {
    cubecl_free_message cubecl_link_device_bitcode cubecl_set_llvm_option
    LLVMABIAlignmentOfType LLVMABISizeOfType LLVMAddAttributeAtIndex LLVMAddCallSiteAttribute
    LLVMAddCase LLVMAddDestination LLVMAddFunction LLVMAddGlobal LLVMAddGlobalInAddressSpace
    LLVMAddIncoming LLVMAddNamedMetadataOperand LLVMAppendBasicBlockInContext LLVMArrayType2
    LLVMBFloatTypeInContext LLVMBasicBlockAsValue LLVMBlockAddress LLVMBuildAShr LLVMBuildAdd
    LLVMBuildAddrSpaceCast LLVMBuildAlloca LLVMBuildAnd LLVMBuildArrayAlloca
    LLVMBuildAtomicCmpXchgSyncScope LLVMBuildAtomicRMWSyncScope LLVMBuildBitCast LLVMBuildBr
    LLVMBuildCall2 LLVMBuildCondBr LLVMBuildExtractElement LLVMBuildExtractValue LLVMBuildFAdd
    LLVMBuildFCmp LLVMBuildFDiv LLVMBuildFMul LLVMBuildFNeg LLVMBuildFPExt LLVMBuildFPToSI
    LLVMBuildFPToUI LLVMBuildFPTrunc LLVMBuildFRem LLVMBuildFSub LLVMBuildFenceSyncScope
    LLVMBuildFreeze LLVMBuildGEP2 LLVMBuildGEPWithNoWrapFlags LLVMBuildICmp LLVMBuildIndirectBr
    LLVMBuildInsertElement LLVMBuildInsertValue LLVMBuildIntToPtr LLVMBuildLShr LLVMBuildLoad2
    LLVMBuildMul LLVMBuildOr LLVMBuildPhi LLVMBuildPtrToInt LLVMBuildRet LLVMBuildRetVoid LLVMBuildSDiv
    LLVMBuildSExt LLVMBuildSIToFP LLVMBuildSRem LLVMBuildSelect LLVMBuildShl LLVMBuildShuffleVector
    LLVMBuildStore LLVMBuildStructGEP2 LLVMBuildSub LLVMBuildSwitch LLVMBuildTrunc LLVMBuildUDiv
    LLVMBuildUIToFP LLVMBuildURem LLVMBuildUnreachable LLVMBuildVAArg LLVMBuildXor LLVMBuildZExt
    LLVMCanValueUseFastMathFlags LLVMClearInsertionPosition LLVMConstArray2 LLVMConstInt
    LLVMConstIntGetZExtValue LLVMConstNamedStruct LLVMConstNull LLVMConstPointerNull LLVMConstReal
    LLVMConstRealGetDouble LLVMConstStringInContext2 LLVMConstVector LLVMContextCreate
    LLVMContextDispose LLVMCopyStringRepOfTargetData LLVMCountIncoming LLVMCountParamTypes
    LLVMCountParams LLVMCountStructElementTypes LLVMCreateBuilderInContext LLVMCreateEnumAttribute
    LLVMCreateMemoryBufferWithContentsOfFile LLVMCreateMemoryBufferWithMemoryRangeCopy
    LLVMCreatePassBuilderOptions LLVMCreateStringAttribute LLVMCreateTargetData
    LLVMCreateTargetDataLayout LLVMCreateTargetMachine LLVMCreateTypeAttribute LLVMDeleteFunction
    LLVMDeleteGlobal LLVMDisposeBuilder LLVMDisposeErrorMessage LLVMDisposeMemoryBuffer
    LLVMDisposeMessage LLVMDisposeModule LLVMDisposePassBuilderOptions LLVMDisposeTargetData
    LLVMDisposeTargetMachine LLVMDisposeTemporaryMDNode LLVMDisposeValueMetadataEntries
    LLVMDoubleTypeInContext LLVMDumpModule LLVMDumpType LLVMDumpValue LLVMFloatTypeInContext
    LLVMFunctionType LLVMGEPGetNoWrapFlags LLVMGetAggregateElement LLVMGetAlignment
    LLVMGetAllocatedType LLVMGetArrayLength2 LLVMGetAsString LLVMGetAtomicRMWBinOp
    LLVMGetAtomicSyncScopeID LLVMGetAttributeCountAtIndex LLVMGetAttributesAtIndex
    LLVMGetBasicBlockName LLVMGetBasicBlockParent LLVMGetBasicBlockTerminator
    LLVMGetBlockAddressBasicBlock LLVMGetBlockAddressFunction LLVMGetBufferSize LLVMGetBufferStart
    LLVMGetCallSiteAttributeCount LLVMGetCallSiteAttributes LLVMGetCalledFunctionType
    LLVMGetCalledValue LLVMGetCmpXchgFailureOrdering LLVMGetCmpXchgSuccessOrdering LLVMGetConstOpcode
    LLVMGetDataLayoutStr LLVMGetDefaultTargetTriple LLVMGetElementType LLVMGetEnumAttributeKind
    LLVMGetEnumAttributeKindForName LLVMGetEnumAttributeValue LLVMGetErrorMessage LLVMGetFCmpPredicate
    LLVMGetFastMathFlags LLVMGetFirstBasicBlock LLVMGetFirstFunction LLVMGetFirstGlobal
    LLVMGetFirstInstruction LLVMGetFirstNamedMetadata LLVMGetFirstParam LLVMGetFirstUse
    LLVMGetGEPSourceElementType LLVMGetHostCPUFeatures LLVMGetHostCPUName LLVMGetICmpPredicate
    LLVMGetIncomingBlock LLVMGetIncomingValue LLVMGetIndices LLVMGetInitializer LLVMGetInlineAsm
    LLVMGetInlineAsmAsmString LLVMGetInlineAsmConstraintString LLVMGetInlineAsmFunctionType
    LLVMGetInlineAsmHasSideEffects LLVMGetInsertBlock LLVMGetInstructionOpcode LLVMGetInstructionParent
    LLVMGetIntTypeWidth LLVMGetIntrinsicDeclaration LLVMGetLastEnumAttributeKind LLVMGetLastFunction
    LLVMGetLastGlobal LLVMGetLinkage LLVMGetMDKindIDInContext LLVMGetMDNodeNumOperands
    LLVMGetMDNodeOperands LLVMGetMDString LLVMGetMaskValue LLVMGetMetadataKind LLVMGetModuleContext
    LLVMGetModuleIdentifier LLVMGetNNeg LLVMGetNSW LLVMGetNUW LLVMGetNamedFunction LLVMGetNamedGlobal
    LLVMGetNamedMetadataName LLVMGetNamedMetadataNumOperands LLVMGetNamedMetadataOperands
    LLVMGetNextBasicBlock LLVMGetNextFunction LLVMGetNextGlobal LLVMGetNextInstruction
    LLVMGetNextNamedMetadata LLVMGetNextParam LLVMGetNextUse LLVMGetNumArgOperands LLVMGetNumIndices
    LLVMGetNumMaskElements LLVMGetNumOperands LLVMGetOperand LLVMGetOrdering LLVMGetParam
    LLVMGetParamTypes LLVMGetPointerAddressSpace LLVMGetPoison LLVMGetPreviousBasicBlock
    LLVMGetPreviousFunction LLVMGetPreviousGlobal LLVMGetPreviousInstruction LLVMGetPreviousParam
    LLVMGetReturnType LLVMGetStringAttributeKind LLVMGetStringAttributeValue LLVMGetStructElementTypes
    LLVMGetStructName LLVMGetSwitchCaseValue LLVMGetSyncScopeID LLVMGetTarget LLVMGetTargetFromTriple
    LLVMGetTypeAttributeValue LLVMGetTypeContext LLVMGetTypeKind LLVMGetUndef LLVMGetUndefMaskElem
    LLVMGetUser LLVMGetValueKind LLVMGetValueName2 LLVMGetVectorSize LLVMGetVolatile
    LLVMGlobalCopyAllMetadata LLVMGlobalGetValueType LLVMGlobalSetMetadata LLVMHalfTypeInContext
    LLVMInitializeNVPTXAsmPrinter LLVMInitializeNVPTXTarget LLVMInitializeNVPTXTargetInfo
    LLVMInitializeNVPTXTargetMC LLVMInstructionEraseFromParent
    LLVMInstructionGetAllMetadataOtherThanDebugLoc LLVMInt32TypeInContext LLVMInt8TypeInContext
    LLVMIntTypeInContext LLVMIntrinsicIsOverloaded LLVMIsAAllocaInst LLVMIsAArgument
    LLVMIsAAtomicCmpXchgInst LLVMIsAAtomicRMWInst LLVMIsABlockAddress LLVMIsACallInst LLVMIsAConstant
    LLVMIsAConstantExpr LLVMIsAConstantFP LLVMIsAConstantInt LLVMIsAExtractElementInst
    LLVMIsAExtractValueInst LLVMIsAFCmpInst LLVMIsAFPToUIInst LLVMIsAFenceInst LLVMIsAFunction
    LLVMIsAGetElementPtrInst LLVMIsAGlobalObject LLVMIsAGlobalValue LLVMIsAGlobalVariable
    LLVMIsAICmpInst LLVMIsAIndirectBrInst LLVMIsAInlineAsm LLVMIsAInsertElementInst
    LLVMIsAInsertValueInst LLVMIsAInstruction LLVMIsAInvokeInst LLVMIsALoadInst LLVMIsAMDNode
    LLVMIsAMDString LLVMIsAPHINode LLVMIsAShuffleVectorInst LLVMIsAStoreInst LLVMIsASwitchInst
    LLVMIsATerminatorInst LLVMIsAUIToFPInst LLVMIsAUser LLVMIsAValueAsMetadata LLVMIsAZExtInst
    LLVMIsAtomic LLVMIsConstant LLVMIsConstantString LLVMIsDeclaration LLVMIsEnumAttribute
    LLVMIsFunctionVarArg LLVMIsGlobalConstant LLVMIsOpaqueStruct LLVMIsPackedStruct LLVMIsPoison
    LLVMIsStringAttribute LLVMIsTypeAttribute LLVMIsUndef LLVMLookupIntrinsicID LLVMMDNodeInContext2
    LLVMMDStringInContext2 LLVMMetadataAsValue LLVMMetadataReplaceAllUsesWith
    LLVMModuleCreateWithNameInContext LLVMOffsetOfElement LLVMOrcAbsoluteSymbols LLVMOrcCreateLLJIT
    LLVMOrcCreateNewThreadSafeContextFromLLVMContext LLVMOrcCreateNewThreadSafeModule
    LLVMOrcDisposeLLJIT LLVMOrcDisposeThreadSafeContext LLVMOrcJITDylibDefine
    LLVMOrcLLJITAddLLVMIRModule LLVMOrcLLJITGetMainJITDylib LLVMOrcLLJITGetTripleString
    LLVMOrcLLJITLookup LLVMOrcLLJITMangleAndIntern LLVMParseIRInContext2 LLVMPointerSizeForAS
    LLVMPointerTypeInContext LLVMPositionBuilderAtEnd LLVMPositionBuilderBefore
    LLVMPreferredAlignmentOfType LLVMPrintModuleToFile LLVMPrintModuleToString LLVMPrintTypeToString
    LLVMPrintValueToString LLVMReplaceAllUsesWith LLVMRunPasses LLVMScalableVectorType LLVMSetAlignment
    LLVMSetAtomicSyncScopeID LLVMSetDataLayout LLVMSetFastMathFlags LLVMSetFunctionCallConv
    LLVMSetGlobalConstant LLVMSetInitializer LLVMSetLinkage LLVMSetMetadata LLVMSetModuleDataLayout
    LLVMSetNNeg LLVMSetOrdering LLVMSetTarget LLVMSetVolatile LLVMSizeOfTypeInBits LLVMStoreSizeOfType
    LLVMStructCreateNamed LLVMStructSetBody LLVMStructTypeInContext LLVMTargetMachineEmitToMemoryBuffer
    LLVMTemporaryMDNode LLVMTypeIsSized LLVMTypeOf LLVMValueAsBasicBlock LLVMValueAsMetadata
    LLVMValueIsBasicBlock LLVMValueMetadataEntriesGetKind LLVMValueMetadataEntriesGetMetadata
    LLVMVectorType LLVMVerifyModule LLVMVoidTypeInContext LLVMWriteBitcodeToFile
    LLVM_InitializeAllAsmParsers LLVM_InitializeAllAsmPrinters LLVM_InitializeAllDisassemblers
    LLVM_InitializeAllTargetInfos LLVM_InitializeAllTargetMCs LLVM_InitializeAllTargets
    LLVM_InitializeNativeAsmParser LLVM_InitializeNativeAsmPrinter LLVM_InitializeNativeDisassembler
    LLVM_InitializeNativeTarget
}
